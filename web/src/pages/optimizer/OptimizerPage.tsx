import { ClusterPicker } from "../../components/ClusterPicker";
import { NoClusterChosen } from "../../components/NoClusterChosen";
import { useSelectedCluster } from "../../components/useSelectedCluster";
import { PageHeader } from "../../components/ui";
import { PlansList } from "./PlansList";
import { RecommendCard } from "./RecommendCard";

export function OptimizerPage() {
  const [clusterId, setClusterId] = useSelectedCluster();
  return (
    <>
      <PageHeader
        title="Optimizer"
        description="The cheapest node set your pods fit on, within the policy, and the safe steps to get there."
        actions={<ClusterPicker value={clusterId} onChange={setClusterId} />}
      />
      {!clusterId ? (
        <NoClusterChosen purpose="get a recommendation" />
      ) : (
        <div className="space-y-4">
          <RecommendCard key={clusterId} clusterId={clusterId} />
          <PlansList clusterId={clusterId} />
        </div>
      )}
    </>
  );
}
