import { useQuery } from "@tanstack/react-query";
import { api } from "../api/clients";
import { SelectField } from "./fields";
import { ErrorState } from "./states";

export function useClusters() {
  return useQuery({
    queryKey: ["clusters"],
    queryFn: async () => (await api.clusters().listClusters({ page: { pageSize: 500 } })).clusters,
  });
}

interface ClusterPickerProps {
  value: string;
  onChange(clusterId: string): void;
  /** Offer "" as a choice with this label (e.g. "Tenant default"). */
  emptyLabel?: string;
  label?: string;
}

export function ClusterPicker({ value, onChange, emptyLabel, label = "Cluster" }: ClusterPickerProps) {
  const clusters = useClusters();
  return (
    <div className="w-64">
      <SelectField label={label} value={value} onChange={(event) => onChange(event.target.value)} disabled={clusters.isPending}>
        {emptyLabel !== undefined && <option value="">{emptyLabel}</option>}
        {emptyLabel === undefined && !value && <option value="">Choose a cluster</option>}
        {(clusters.data ?? []).map((cluster) => (
          <option key={cluster.id} value={cluster.id}>
            {cluster.name} ({cluster.region})
          </option>
        ))}
      </SelectField>
      {clusters.isError && <ErrorState error={clusters.error} feature="Clusters" retry={() => void clusters.refetch()} />}
    </div>
  );
}
