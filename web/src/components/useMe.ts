import { useQuery } from "@tanstack/react-query";
import { api } from "../api/clients";

/**
 * The caller's account, tenants and whether the platform is in safe mode (`AuthService.Me`),
 * shared under one key by every part of the app that reads it.
 */
export function useMe() {
  return useQuery({ queryKey: ["me"], queryFn: () => api.auth().me({}), retry: false, refetchInterval: 30_000 });
}
