import { useState } from "react";
import { Link } from "react-router";
import { ClusterPicker, useClusters } from "../../components/ClusterPicker";
import { OutOfPolicyClusters, PolicyComplianceCard } from "../../components/PolicyCompliance";
import { Empty } from "../../components/states";
import { PageHeader } from "../../components/ui";
import { CostChart } from "./CostChart";
import { EventFeed } from "./EventFeed";
import { KpiGrid } from "./KpiGrid";
import { SpotShareCard } from "./SpotShareCard";

export function DashboardPage() {
  const [clusterId, setClusterId] = useState("");
  const clusters = useClusters();
  const none = clusters.isSuccess && clusters.data.length === 0;
  return (
    <>
      <PageHeader
        title="Dashboard"
        description="Cost, savings and capacity of your clusters, refreshed every few seconds."
        actions={<ClusterPicker value={clusterId} onChange={setClusterId} emptyLabel="All clusters" label="Scope" />}
      />
      {none && (
        <div className="mb-4">
          <Empty title="No clusters yet">
            <Link to="/clusters" className="text-indigo-700 underline">
              Connect a cluster
            </Link>{" "}
            to see its costs and savings here.
          </Empty>
        </div>
      )}
      <div className="mb-4">{clusterId ? <PolicyComplianceCard clusterId={clusterId} /> : <OutOfPolicyClusters />}</div>
      <KpiGrid clusterId={clusterId} />
      <div className="mt-4 grid gap-4 lg:grid-cols-3">
        <CostChart clusterId={clusterId} className="lg:col-span-2" />
        <SpotShareCard clusterId={clusterId} />
      </div>
      <div className="mt-4">
        <EventFeed clusterId={clusterId} />
      </div>
    </>
  );
}
