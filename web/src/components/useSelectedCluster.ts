import { useSearchParams } from "react-router";
import { useClusters } from "./ClusterPicker";

/** The cluster chosen in the URL (?cluster=), defaulting to the first one. */
export function useSelectedCluster(defaultToFirst = true): [string, (id: string) => void] {
  const [params, setParams] = useSearchParams();
  const clusters = useClusters();
  const chosen = params.get("cluster");
  const id = chosen ?? (defaultToFirst ? (clusters.data?.[0]?.id ?? "") : "");
  const set = (next: string) =>
    setParams(
      (prev) => {
        const copy = new URLSearchParams(prev);
        copy.set("cluster", next);
        return copy;
      },
      { replace: true },
    );
  return [id, set];
}
