import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/clients";

export function useSystemConfig() {
  return useQuery({
    queryKey: ["system-config"],
    queryFn: async () => (await api.admin().getSystemConfig({})).config ?? null,
  });
}

/** One setting to change; the server changes only the settings named in the update mask, so a
 * page showing a stale copy of another setting never writes it back. */
export type SettingChange = { safeMode: boolean } | { globalRiskTtlSeconds: number };

function maskPath(change: SettingChange): string {
  return "safeMode" in change ? "safe_mode" : "global_risk_ttl_seconds";
}

export function useUpdateSystemConfig() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (change: SettingChange) =>
      (await api.admin().updateSystemConfig({ config: change, updateMask: { paths: [maskPath(change)] } })).config,
    onSuccess: (config) => queryClient.setQueryData(["system-config"], config ?? null),
  });
}
