import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { SystemConfig } from "@spot-optimizer/sdk/gen/spot/auth/v1/auth_pb.js";
import { api } from "../../api/clients";

export function useSystemConfig() {
  return useQuery({
    queryKey: ["system-config"],
    queryFn: async () => (await api.admin().getSystemConfig({})).config ?? null,
  });
}

export function useUpdateSystemConfig() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (config: SystemConfig) => (await api.admin().updateSystemConfig({ config })).config,
    onSuccess: (config) => queryClient.setQueryData(["system-config"], config ?? null),
  });
}
