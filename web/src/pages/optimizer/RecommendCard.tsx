import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { ErrorState } from "../../components/states";
import { Button, Card } from "../../components/ui";
import { PlanStateBadge } from "./planLabels";
import { PlanSteps } from "./PlanSteps";
import { PlanSummary } from "./PlanSummary";
import { UnplacedPods } from "./UnplacedPods";

/** Asks for a recommendation, shows it with its explanations, and applies it. */
export function RecommendCard({ clusterId }: { clusterId: string }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const recommend = useMutation({ mutationFn: async () => (await api.optimizer().recommend({ clusterId })).plan });
  const apply = useMutation({
    mutationFn: async (planId: string) => (await api.optimizer().applyPlan({ planId })).plan,
    onSuccess: (plan) => {
      void queryClient.invalidateQueries({ queryKey: ["plans", clusterId] });
      if (plan) navigate(`/optimizer/plans/${plan.id}`);
    },
  });
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
            <span className="text-slate-500">Plan {plan.id}</span>
          </div>
          <PlanSummary plan={plan} />
          {plan.reason && (
            <p role="note" className="rounded-md bg-slate-50 p-2 text-sm text-slate-700">
              {plan.reason}
            </p>
          )}
          {plan.steps.length > 0 ? <PlanSteps steps={plan.steps} showStatus={false} /> : <p className="text-sm text-slate-500">No steps: the cluster is already on its cheapest node set.</p>}
          <UnplacedPods pods={plan.unplacedPods} />
          {apply.isError && (
            <p role="alert" className="text-sm text-red-700">
              {errorMessage(apply.error)}
            </p>
          )}
          <Button onClick={() => apply.mutate(plan.id)} disabled={apply.isPending || plan.steps.length === 0}>
            {apply.isPending ? "Applying…" : "Apply plan"}
          </Button>
        </div>
      )}
    </Card>
  );
}
