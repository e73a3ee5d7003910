import { StepStatus, type Plan } from "@spot-optimizer/sdk/gen/spot/optimizer/v1/optimizer_pb.js";

/** A progress bar over the plan's finished steps. */
export function PlanProgress({ plan }: { plan: Plan }) {
  const total = plan.steps.length;
  const finished = plan.steps.filter((s) => s.status === StepStatus.SUCCEEDED || s.status === StepStatus.SKIPPED || s.status === StepStatus.FAILED).length;
  const percent = total ? Math.round((finished / total) * 100) : 100;
  return (
    <div>
      <div className="mb-1 flex justify-between text-sm">
        <span>
          {finished} of {total} steps finished
        </span>
        <span>{percent} %</span>
      </div>
      <div role="progressbar" aria-label="Plan progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} className="h-2 overflow-hidden rounded-full bg-slate-200">
        <div className="h-full bg-indigo-600 transition-all" style={{ width: `${percent}%` }} />
      </div>
    </div>
  );
}
