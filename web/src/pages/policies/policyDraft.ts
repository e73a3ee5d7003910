import { create } from "@bufbuild/protobuf";
import { Architecture } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import {
  ConsolidationMode,
  DisruptionBudgetSchema,
  PolicySchema,
  type Policy,
} from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";

/**
 * The editor's state: numbers and lists as typed, so an out-of-range value (spot percent 150)
 * reaches the server, which owns the rules and answers with field errors. Keys are the proto
 * field paths the server names in its errors.
 */
export interface PolicyDraft {
  spot_percent: string;
  on_demand_base: string;
  allowed_families: string;
  denied_families: string;
  allowed_categories: string;
  allowed_generations: string;
  architectures: Architecture[];
  node_template_ids: string[];
  max_interruption_bucket: string;
  min_pools: string;
  max_usd_per_vcpu_hour: string;
  consolidation: ConsolidationMode;
  consolidation_min_savings_percent: string;
  "disruption_budget.max_nodes": string;
  "disruption_budget.max_percent": string;
  "disruption_budget.windows": string;
  "disruption_budget.time_zone": string;
  bare_pods_evictable_in: string;
  local_data_evictable_in: string;
  dry_run: boolean;
}

const list = (values: (string | number)[]) => values.join(", ");
const split = (text: string) =>
  text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);

export function toDraft(policy: Policy | undefined): PolicyDraft {
  const p = policy ?? create(PolicySchema);
  // An absent budget (the built-in one) stays empty in the form, and is sent back absent.
  const budget = p.disruptionBudget;
  return {
    spot_percent: String(p.spotPercent),
    on_demand_base: String(p.onDemandBase),
    allowed_families: list(p.allowedFamilies),
    denied_families: list(p.deniedFamilies),
    allowed_categories: list(p.allowedCategories),
    allowed_generations: list(p.allowedGenerations),
    architectures: [...p.architectures],
    node_template_ids: [...p.nodeTemplateIds],
    max_interruption_bucket: String(p.maxInterruptionBucket),
    min_pools: String(p.minPools),
    max_usd_per_vcpu_hour: String(p.maxUsdPerVcpuHour),
    consolidation: p.consolidation,
    consolidation_min_savings_percent: String(p.consolidationMinSavingsPercent),
    "disruption_budget.max_nodes": budget ? String(budget.maxNodes) : "",
    "disruption_budget.max_percent": budget ? String(budget.maxPercent) : "",
    "disruption_budget.windows": budget ? budget.windows.join("\n") : "",
    "disruption_budget.time_zone": budget?.timeZone ?? "",
    bare_pods_evictable_in: list(p.barePodsEvictableIn),
    local_data_evictable_in: list(p.localDataEvictableIn),
    dry_run: p.dryRun,
  };
}

const BUDGET_KEYS = ["disruption_budget.max_nodes", "disruption_budget.max_percent", "disruption_budget.windows", "disruption_budget.time_zone"] as const;

export type DraftErrors = Partial<Record<keyof PolicyDraft, string>>;

/** Converts the draft; values that cannot even be encoded (not a number) are errors here. */
export function fromDraft(draft: PolicyDraft, clusterId: string): { policy?: Policy; errors: DraftErrors } {
  const errors: DraftErrors = {};
  const whole = (key: keyof PolicyDraft, signed = false): number => {
    const text = String(draft[key]).trim();
    const value = text === "" ? 0 : Number(text);
    if (!Number.isInteger(value) || (!signed && value < 0) || Math.abs(value) > 2 ** 31 - 1) {
      errors[key] = signed ? "must be a whole number" : "must be a whole number, 0 or more";
      return 0;
    }
    return value;
  };
  const decimal = (key: keyof PolicyDraft): number => {
    const text = String(draft[key]).trim();
    const value = text === "" ? 0 : Number(text);
    if (!Number.isFinite(value)) {
      errors[key] = "must be a number";
      return 0;
    }
    return value;
  };
  const generations = split(draft.allowed_generations).map(Number);
  const budgetGiven = BUDGET_KEYS.some((key) => String(draft[key]).trim() !== "");
  if (generations.some((g) => !Number.isInteger(g))) errors.allowed_generations = "must be whole numbers separated by commas";

  const policy = create(PolicySchema, {
    clusterId,
    spotPercent: whole("spot_percent"),
    onDemandBase: whole("on_demand_base"),
    allowedFamilies: split(draft.allowed_families),
    deniedFamilies: split(draft.denied_families),
    allowedCategories: split(draft.allowed_categories),
    allowedGenerations: generations.filter(Number.isInteger),
    architectures: draft.architectures,
    nodeTemplateIds: draft.node_template_ids,
    maxInterruptionBucket: whole("max_interruption_bucket", true),
    minPools: whole("min_pools"),
    maxUsdPerVcpuHour: decimal("max_usd_per_vcpu_hour"),
    consolidation: draft.consolidation,
    consolidationMinSavingsPercent: decimal("consolidation_min_savings_percent"),
    barePodsEvictableIn: split(draft.bare_pods_evictable_in),
    localDataEvictableIn: split(draft.local_data_evictable_in),
    disruptionBudget: budgetGiven
      ? create(DisruptionBudgetSchema, {
          maxNodes: whole("disruption_budget.max_nodes"),
          maxPercent: whole("disruption_budget.max_percent"),
          windows: draft["disruption_budget.windows"]
            .split("\n")
            .map((s) => s.trim())
            .filter(Boolean),
          timeZone: draft["disruption_budget.time_zone"].trim(),
        })
      : undefined,
    dryRun: draft.dry_run,
  });
  return Object.keys(errors).length ? { errors } : { policy, errors };
}

/** Which draft key a server field path belongs to ("allowed_generations[2]" -> allowed_generations). */
export function draftKeyFor(field: string, draft: PolicyDraft): keyof PolicyDraft | null {
  const clean = field.replace(/\[\d+\]/g, "");
  if (clean in draft) return clean as keyof PolicyDraft;
  if (clean === "disruption_budget") return "disruption_budget.max_nodes";
  return null;
}
