import { CapacityType } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import { PlanKind, PlanState, StepKind, StepStatus, type PlanStep } from "@spot-optimizer/sdk/gen/spot/optimizer/v1/optimizer_pb.js";
import { enumLabel } from "../../api/format";
import { Badge } from "../../components/ui";

export function PlanStateBadge({ state }: { state: PlanState }) {
  const tone =
    state === PlanState.SUCCEEDED ? "green" : state === PlanState.FAILED ? "red" : state === PlanState.REFUSED ? "amber" : state === PlanState.APPLYING ? "sky" : "slate";
  return <Badge tone={tone}>{enumLabel(PlanState[state])}</Badge>;
}

/** Provisioning, consolidation, interruption response or compliance: each kind is applied under its own rules. */
export function planKindLabel(kind: PlanKind): string {
  return kind === PlanKind.UNSPECIFIED ? "—" : enumLabel(PlanKind[kind]);
}

export function StepStatusBadge({ status }: { status: StepStatus }) {
  const tone = status === StepStatus.SUCCEEDED ? "green" : status === StepStatus.FAILED ? "red" : status === StepStatus.RUNNING ? "sky" : status === StepStatus.SKIPPED ? "amber" : "slate";
  return <Badge tone={tone}>{enumLabel(StepStatus[status])}</Badge>;
}

/** "Launch 2 × m5.large spot in us-east-1a (or m5.xlarge if short)", "Drain node-3". */
export function stepSummary(step: PlanStep): string {
  const kind = enumLabel(StepKind[step.kind]);
  const pool = step.pool ? `${step.pool.instanceType}${step.pool.zone ? ` in ${step.pool.zone}` : ""}` : "";
  const capacity = step.capacityType === CapacityType.SPOT ? "spot" : step.capacityType === CapacityType.ON_DEMAND ? "on-demand" : "";
  const fallbacks = step.fallbackPools.length ? ` (or ${step.fallbackPools.map((p) => p.instanceType).join(", ")} if short)` : "";
  if (step.kind === StepKind.LAUNCH) return `${kind} ${step.count || 1} × ${pool} ${capacity}`.trim() + fallbacks;
  if (step.nodeName) return `${kind} ${step.nodeName}`;
  return `${kind} ${pool}`.trim();
}
