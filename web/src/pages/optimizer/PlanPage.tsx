import { PlanState, type Plan } from "@spot-optimizer/sdk/gen/spot/optimizer/v1/optimizer_pb.js";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { api } from "../../api/clients";
import { nullIfNotFound } from "../../api/errors";
import { formatTime } from "../../api/format";
import { useServerStream } from "../../api/useServerStream";
import { NotFound, QueryView } from "../../components/states";
import { StreamStatus } from "../../components/StreamStatus";
import { Card, PageHeader } from "../../components/ui";
import { ApplyPlan } from "./ApplyPlan";
import { PlanStateBadge } from "./planLabels";
import { PlanProgress } from "./PlanProgress";
import { PlanSteps } from "./PlanSteps";
import { PlanSummary } from "./PlanSummary";
import { UnplacedPods } from "./UnplacedPods";

const FINISHED = new Set([PlanState.SUCCEEDED, PlanState.FAILED, PlanState.REFUSED]);

/** One plan, its steps' status followed live through WatchPlan. */
export function PlanPage() {
  const { planId = "" } = useParams();
  const queryClient = useQueryClient();
  const query = useQuery({
    queryKey: ["plan", planId],
    queryFn: async () => (await nullIfNotFound(api.optimizer().getPlan({ planId })))?.plan ?? null,
    // Polling backs the stream up: slow while the stream is live, never once the plan is done.
    refetchInterval: (q) => (q.state.data && FINISHED.has(q.state.data.state) ? false : 5_000),
  });
  const done = !!query.data && FINISHED.has(query.data.state);
  const ended = query.data?.state === PlanState.FAILED || query.data?.state === PlanState.REFUSED;
  const stream = useServerStream(
    (options) => api.optimizer().watchPlan({ planId }, options),
    (message) => message.plan && queryClient.setQueryData<Plan>(["plan", planId], message.plan),
    [planId],
    !!query.data && !done,
  );
  return (
    <QueryView query={query} feature="Plans" loadingLabel="Loading the plan">
      {(plan) =>
        !plan ? (
          <NotFound title="There is no such plan" backTo="/optimizer" backLabel="Back to the optimizer" />
        ) : (
          <>
            <PageHeader
              title="Plan"
              description={
                <>
                  {plan.id} · created {formatTime(plan.createdAt)} ·{" "}
                  <Link to={`/clusters/${plan.clusterId}`} className="text-indigo-700 underline">
                    cluster
                  </Link>
                </>
              }
              actions={
                <>
                  <span data-testid="plan-state">
                    <PlanStateBadge state={plan.state} />
                  </span>
                  {!done && <StreamStatus state={stream} />}
                </>
              }
            />
            <div className="space-y-4">
              <Card title="Progress">
                <PlanProgress plan={plan} />
                {plan.reason && (
                  <p role="note" className={`mt-2 rounded-md p-2 text-sm ${ended ? "bg-red-50 text-red-800" : "bg-slate-50"}`} data-testid="plan-reason">
                    {ended && <span className="font-medium">{plan.state === PlanState.REFUSED ? "Why it was refused: " : "Why it failed: "}</span>}
                    {plan.reason}
                  </p>
                )}
                <div className="mt-3">
                  <ApplyPlan plan={plan} />
                </div>
              </Card>
              <Card title="Savings">
                <PlanSummary plan={plan} />
              </Card>
              <Card title="Steps">
                <PlanSteps steps={plan.steps} showStatus />
                <div className="mt-2 space-y-2">
                  <UnplacedPods
                    pods={plan.strandedPods}
                    title={`${plan.strandedPods.length} running pods would be left with no node (applied only by accepting their loss):`}
                  />
                  <UnplacedPods pods={plan.unplacedPods} />
                </div>
              </Card>
            </div>
          </>
        )
      }
    </QueryView>
  );
}
