import type { PlanStep } from "@spot-optimizer/sdk/gen/spot/optimizer/v1/optimizer_pb.js";
import { StepStatusBadge, stepSummary } from "./planLabels";

/** The plan's steps in order, each with why the optimizer chose it. */
export function PlanSteps({ steps, showStatus }: { steps: PlanStep[]; showStatus: boolean }) {
  return (
    <ol aria-label="Plan steps" className="divide-y divide-slate-100 rounded-md border border-slate-200">
      {steps.map((step) => (
        <li key={step.index} className="flex items-start gap-3 px-3 py-2 text-sm" data-testid="plan-step">
          <span className="w-6 shrink-0 text-right text-xs text-slate-400">{step.index + 1}</span>
          <div className="min-w-0 flex-1">
            <p className="font-medium">{stepSummary(step)}</p>
            {step.explanation && <p className="text-xs text-slate-600">{step.explanation}</p>}
          </div>
          {showStatus && <StepStatusBadge status={step.status} />}
        </li>
      ))}
    </ol>
  );
}
