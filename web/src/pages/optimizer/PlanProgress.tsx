import { PlanState, StepStatus, type Plan } from "@spot-optimizer/sdk/gen/spot/optimizer/v1/optimizer_pb.js";
import { formatPercent } from "../../api/format";

/**
 * A progress bar over the plan's steps that says how it ended: full only for a plan that
 * succeeded; a failed or refused plan shows, in red, only the steps that were carried out.
 */
export function PlanProgress({ plan }: { plan: Plan }) {
  const total = plan.steps.length;
  const count = (status: StepStatus) => plan.steps.filter((s) => s.status === status).length;
  const done = count(StepStatus.SUCCEEDED);
  const failed = count(StepStatus.FAILED);
  const skipped = count(StepStatus.SKIPPED);
  const ended = plan.state === PlanState.FAILED || plan.state === PlanState.REFUSED;
  const share = plan.state === PlanState.SUCCEEDED || total === 0 ? 100 : ((done + (ended ? 0 : skipped)) / total) * 100;
  const percent = Math.round(share);
  const summary = ended
    ? `${plan.state === PlanState.REFUSED ? "Refused" : "Failed"}: ${done} of ${total} steps carried out` +
      (failed ? `, ${failed} failed` : "") +
      (skipped ? `, ${skipped} skipped` : "")
    : `${done} of ${total} steps done` + (skipped ? `, ${skipped} skipped` : "");
  return (
    <div>
      <div className="mb-1 flex justify-between text-sm">
        <span data-testid="plan-progress-summary">{summary}</span>
        <span>{formatPercent(share)}</span>
      </div>
      <div role="progressbar" aria-label="Plan progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} className={`h-2 overflow-hidden rounded-full ${ended ? "bg-red-100" : "bg-slate-200"}`}>
        <div className={`h-full transition-all ${ended ? "bg-red-600" : "bg-indigo-600"}`} style={{ width: `${share}%` }} />
      </div>
    </div>
  );
}
