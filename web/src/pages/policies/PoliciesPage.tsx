import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { ClusterPicker, useClusters } from "../../components/ClusterPicker";
import { OutOfPolicyClusters, PolicyComplianceCard } from "../../components/PolicyCompliance";
import { QueryView } from "../../components/states";
import { useSelectedCluster } from "../../components/useSelectedCluster";
import { PageHeader } from "../../components/ui";
import { NodeTemplatesCard } from "./NodeTemplatesCard";
import { PolicyEditor } from "./PolicyEditor";
import { PolicyVersions } from "./PolicyVersions";

export function PoliciesPage() {
  const [clusterId, setClusterId] = useSelectedCluster(false);
  const clusters = useClusters();
  const region = clusters.data?.find((c) => c.id === clusterId)?.region ?? "us-east-1";
  const policy = useQuery({
    queryKey: ["policy", clusterId],
    queryFn: async () => (await api.policy().getPolicy({ clusterId })).policy ?? null,
  });
  return (
    <>
      <PageHeader
        title="Policies"
        description="What the optimizer may run: spot share, instance families, risk limits and disruption budget. Each cluster can override the tenant default."
        actions={<ClusterPicker value={clusterId} onChange={setClusterId} emptyLabel="Tenant default" label="Policy of" />}
      />
      <QueryView query={policy} feature="Policies" loadingLabel="Loading the policy">
        {(current) => (
          <div className="space-y-4">
            {clusterId ? <PolicyComplianceCard clusterId={clusterId} /> : <OutOfPolicyClusters />}
            <PolicyEditor key={clusterId} clusterId={clusterId} region={region} current={current ?? undefined} />
            <PolicyVersions clusterId={clusterId} />
          </div>
        )}
      </QueryView>
      <div className="mt-4">
        <NodeTemplatesCard />
      </div>
    </>
  );
}
