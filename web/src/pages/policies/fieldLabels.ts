import type { PolicyDraft } from "./policyDraft";

export const FIELD_LABELS: Record<keyof PolicyDraft, string> = {
  spot_percent: "Spot percent",
  on_demand_base: "On-demand base",
  allowed_families: "Allowed families",
  denied_families: "Denied families",
  allowed_categories: "Allowed categories",
  allowed_generations: "Allowed generations",
  architectures: "Architectures",
  node_template_ids: "Node templates",
  max_interruption_bucket: "Max interruption bucket",
  min_pools: "Minimum pools",
  max_usd_per_vcpu_hour: "Max $ per vCPU-hour",
  consolidation: "Consolidation",
  consolidation_min_savings_percent: "Consolidation min savings %",
  "disruption_budget.max_nodes": "Disruption max nodes",
  "disruption_budget.max_percent": "Disruption max percent",
  "disruption_budget.windows": "Disruption windows",
  "disruption_budget.time_zone": "Disruption time zone",
  bare_pods_evictable_in: "Bare pods may be lost in",
  local_data_evictable_in: "Local data may be lost in",
  dry_run: "Dry run",
};
