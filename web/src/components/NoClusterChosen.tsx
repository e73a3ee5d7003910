import { Link } from "react-router";
import { useClusters } from "./ClusterPicker";
import { Empty, Loading } from "./states";

/** In place of a cluster's content: a way to register one when the tenant has none, else "choose one". */
export function NoClusterChosen({ purpose }: { purpose: string }) {
  const clusters = useClusters();
  if (clusters.isPending) return <Loading label="Loading the clusters" />;
  // The cluster picker shows why the list failed.
  if (clusters.isError) return null;
  if (clusters.data.length === 0) {
    return (
      <Empty title="No clusters yet">
        <Link to="/clusters" className="text-indigo-700 underline">
          Register a cluster
        </Link>{" "}
        to {purpose}.
      </Empty>
    );
  }
  return <Empty title="Choose a cluster">Pick a cluster to {purpose}.</Empty>;
}
