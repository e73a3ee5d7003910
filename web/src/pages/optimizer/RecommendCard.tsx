import { useMutation } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { ErrorState } from "../../components/states";
import { Button, Card } from "../../components/ui";
import { ApplyPlan } from "./ApplyPlan";
import { PlanStateBadge } from "./planLabels";
import { PlanSteps } from "./PlanSteps";
import { PlanSummary } from "./PlanSummary";
import { UnplacedPods } from "./UnplacedPods";

/** Asks for a recommendation, shows it with its explanations, and applies it (after a confirmation). */
export function RecommendCard({ clusterId }: { clusterId: string }) {
  const recommend = useMutation({ mutationFn: async () => (await api.optimizer().recommend({ clusterId })).plan });
  const plan = recommend.data;
  return (
    <Card
      title="Recommendation"
      actions={
        <Button onClick={() => recommend.mutate()} disabled={recommend.isPending}>
          {recommend.isPending ? "Computing…" : plan ? "Recommend again" : "Get recommendation"}
        </Button>
      }
    >
      {recommend.isError && <ErrorState error={recommend.error} feature="The optimizer" />}
      {!plan && !recommend.isError && !recommend.isPending && (
        <p className="text-sm text-slate-500">The optimizer computes the plan it would apply now. Nothing changes until you apply it.</p>
      )}
      {recommend.isPending && (
        <p role="status" className="text-sm text-slate-500">
          Solving over the catalog…
        </p>
      )}
      {plan && (
        <div className="space-y-3" data-testid="recommendation">
          <div className="flex items-center gap-2 text-sm">
            <PlanStateBadge state={plan.state} />
            <span className="text-slate-500" data-testid="recommendation-plan-id" data-plan-id={plan.id}>
              Plan {plan.id}
            </span>
          </div>
          <PlanSummary plan={plan} />
          {plan.reason && (
            <p role="note" className="rounded-md bg-slate-50 p-2 text-sm text-slate-700">
              {plan.reason}
            </p>
          )}
          {plan.steps.length > 0 ? <PlanSteps steps={plan.steps} showStatus={false} /> : <p className="text-sm text-slate-500">No steps: the cluster is already on its cheapest node set.</p>}
          <UnplacedPods pods={plan.unplacedPods} />
          <ApplyPlan key={plan.id} plan={plan} />
        </div>
      )}
    </Card>
  );
}
