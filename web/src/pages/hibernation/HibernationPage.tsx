import { ClusterPicker } from "../../components/ClusterPicker";
import { NoClusterChosen } from "../../components/NoClusterChosen";
import { useSelectedCluster } from "../../components/useSelectedCluster";
import { PageHeader } from "../../components/ui";
import { HibernationRunsCard } from "./HibernationRunsCard";
import { OverrideCard } from "./OverrideCard";
import { SchedulesCard } from "./SchedulesCard";
import { TransitionsCard } from "./TransitionsCard";

export function HibernationPage() {
  const [clusterId, setClusterId] = useSelectedCluster();
  return (
    <>
      <PageHeader
        title="Hibernation"
        description="Scale a cluster's nodes to zero on a schedule, and back when it is needed."
        actions={<ClusterPicker value={clusterId} onChange={setClusterId} />}
      />
      {!clusterId ? (
        <NoClusterChosen purpose="see its schedules" />
      ) : (
        <div className="grid gap-4 lg:grid-cols-3">
          <div className="space-y-4 lg:col-span-2">
            <SchedulesCard clusterId={clusterId} />
            <HibernationRunsCard clusterId={clusterId} />
          </div>
          <div className="space-y-4">
            <TransitionsCard clusterId={clusterId} />
            <OverrideCard clusterId={clusterId} />
          </div>
        </div>
      )}
    </>
  );
}
