import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";

/** The KPIs of the tenant (clusterId "") or one cluster, refreshed every 5 seconds. */
export function useKpis(clusterId: string) {
  return useQuery({
    queryKey: ["kpis", clusterId],
    queryFn: async () => (await api.dashboard().getKpis({ clusterId })).kpis ?? null,
    refetchInterval: 5_000,
  });
}
