import type { Plan } from "@spot-optimizer/sdk/gen/spot/optimizer/v1/optimizer_pb.js";
import { formatPercent, formatUsd, formatUsdPerHour } from "../../api/format";
import { planKindLabel } from "./planLabels";

/** Cost now and after, and what the plan saves. */
export function PlanSummary({ plan }: { plan: Plan }) {
  const perHour = plan.currentUsdPerHour - plan.targetUsdPerHour;
  const items = [
    ["Cost now", `${formatUsdPerHour(plan.currentUsdPerHour)}/h`],
    ["Cost after", `${formatUsdPerHour(plan.targetUsdPerHour)}/h`],
    ["Saving per hour", formatUsdPerHour(perHour)],
    ["Saving per month", formatUsd(plan.savingsUsdPerMonth)],
    ["Gap to lower bound", formatPercent(plan.optimalityGapPercent)],
    ["Strategy", plan.strategy || "—"],
    ["Kind", planKindLabel(plan.kind)],
  ];
  return (
    <dl className="grid grid-cols-2 gap-3 md:grid-cols-7" aria-label="Plan savings">
      {items.map(([label, value]) => (
        <div key={label} className="rounded-md bg-slate-50 p-2">
          <dt className="text-xs text-slate-500">{label}</dt>
          <dd className="font-semibold">{value}</dd>
        </div>
      ))}
    </dl>
  );
}
