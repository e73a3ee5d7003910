import { useQuery } from "@tanstack/react-query";
import { api } from "../api/clients";

export const SUBSCRIPTION_KEY = ["billing-subscription"] as const;

/** The tenant's subscription (plan, status, pending change); shared by the billing page and the past-due banner. */
export function useSubscription(options: { retry?: boolean; refetchInterval?: number } = {}) {
  return useQuery({
    queryKey: SUBSCRIPTION_KEY,
    queryFn: async () => (await api.billing().getSubscription({})).subscription ?? null,
    ...options,
  });
}
