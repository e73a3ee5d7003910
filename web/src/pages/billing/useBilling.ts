import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";

export const PREVIEW_KEY = ["billing-preview"] as const;

export function usePlans() {
  return useQuery({
    queryKey: ["billing-plans"],
    queryFn: async () => (await api.billing().listPlans({})).plans,
    staleTime: 10 * 60_000,
  });
}

/** The open period's invoice as it stands now. */
export function usePreview() {
  return useQuery({
    queryKey: PREVIEW_KEY,
    queryFn: async () => (await api.billing().previewInvoice({})).invoice ?? null,
    refetchInterval: 60_000,
  });
}
