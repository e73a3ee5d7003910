import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { api } from "../../api/clients";
import { nullIfNotFound } from "../../api/errors";
import { NotFound, QueryView } from "../../components/states";
import { Badge, PageHeader } from "../../components/ui";
import { ActionsLive } from "./ActionsLive";
import { AgentStatusCard } from "./AgentStatusCard";
import { DryRunToggle } from "./DryRunToggle";
import { EventFeed } from "../dashboard/EventFeed";
import { NodeClassCard } from "./NodeClassCard";
import { NodesSection } from "./NodesSection";
import { PolicyComplianceCard } from "../../components/PolicyCompliance";
import { PodsTable } from "./PodsTable";

export function ClusterDetailPage() {
  const { clusterId = "" } = useParams();
  const query = useQuery({
    queryKey: ["cluster", clusterId],
    queryFn: async () => (await nullIfNotFound(api.clusters().getCluster({ clusterId })))?.cluster ?? null,
  });
  return (
    <QueryView query={query} feature="Clusters" loadingLabel="Loading the cluster">
      {(cluster) =>
        !cluster ? (
          <NotFound title="There is no such cluster" backTo="/clusters" backLabel="Back to the clusters" />
        ) : (
          <>
            <PageHeader
              title={cluster.name}
              description={
                <>
                  {cluster.region}
                  {cluster.awsAccountId && ` · AWS ${cluster.awsAccountId}`} · {cluster.dryRun ? <Badge tone="amber">Dry run</Badge> : <Badge tone="green">Autopilot</Badge>}
                </>
              }
              actions={
                <>
                  <DryRunToggle cluster={cluster} />
                  <Link to={`/optimizer?cluster=${cluster.id}`} className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-700">
                    Optimize
                  </Link>
                  <Link to={`/policies?cluster=${cluster.id}`} className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50">
                    Policy
                  </Link>
                </>
              }
            />
            <div className="space-y-4">
              <AgentStatusCard clusterId={clusterId} />
              <PolicyComplianceCard clusterId={clusterId} />
              <NodesSection clusterId={clusterId} />
              <NodeClassCard cluster={cluster} />
              <div className="grid gap-4 xl:grid-cols-2">
                <ActionsLive clusterId={clusterId} />
                <EventFeed clusterId={clusterId} />
              </div>
              <PodsTable clusterId={clusterId} />
            </div>
          </>
        )
      }
    </QueryView>
  );
}
