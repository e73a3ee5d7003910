import { Role } from "@spot-optimizer/sdk/gen/spot/auth/v1/auth_pb.js";
import type { Plan, Subscription } from "@spot-optimizer/sdk/gen/spot/billing/v1/billing_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { formatTime } from "../../api/format";
import { useAuth } from "../../auth/AuthProvider";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { formatMoney, isZero } from "../../components/money";
import { QueryView } from "../../components/states";
import { SUBSCRIPTION_KEY, useSubscription } from "../../components/useSubscription";
import { Badge, Button, Card } from "../../components/ui";
import { FREE_PLAN, formatLimit, formatShare, planName } from "./billingLabels";
import { PREVIEW_KEY, usePlans } from "./useBilling";

const OWNERS_ONLY = "Only owners change the plan";

/** What the owner is about to confirm. */
type Pending = { kind: "change"; plan: Plan } | { kind: "cancel" };

function PlanTerms({ plan }: { plan: Plan }) {
  return (
    <ul className="mt-2 space-y-0.5 text-xs text-slate-600">
      <li>Share of savings: {plan.shareBasisPoints === 0 ? "none" : formatShare(plan.shareBasisPoints)}</li>
      <li>Monthly minimum: {isZero(plan.monthlyMinimum) ? "none" : formatMoney(plan.monthlyMinimum)}</li>
      <li>
        Clusters: {formatLimit(plan.maxClusters)}; nodes per cluster: {formatLimit(plan.maxNodesPerCluster)}
      </li>
    </ul>
  );
}

/** What a change does and when, in the words of the confirmation. */
function changeText(plan: Plan, s: Subscription, plans: Plan[]): string {
  const current = s.plan;
  if (current?.id === plan.id) return `The change to ${planName(plans, s.nextPlanId)} at the end of the period is undone: ${plan.name} continues.`;
  if (!current || current.id === FREE_PLAN) {
    const minimum = isZero(plan.monthlyMinimum)
      ? ""
      : ` Its monthly minimum of ${formatMoney(plan.monthlyMinimum)} is prorated over what is left of this period.`;
    return `${plan.name} starts now: ${formatShare(plan.shareBasisPoints)} of the savings the platform realises is charged from now on.${minimum}`;
  }
  return `${plan.name} takes effect at the end of the period, ${formatTime(s.currentPeriodEnd)}. Until then ${current.name} stays in force.`;
}

function PlanChoices({ s, plans }: { s: Subscription; plans: Plan[] }) {
  const { user } = useAuth();
  const isOwner = user?.role === Role.OWNER;
  const queryClient = useQueryClient();
  // The last choice stays while the dialog closes, so its words do not change under the user.
  const [pending, setPending] = useState<Pending | null>(null);
  const [confirming, setConfirming] = useState(false);
  const onSuccess = (response: { subscription?: Subscription }) => {
    queryClient.setQueryData(SUBSCRIPTION_KEY, response.subscription ?? null);
    void queryClient.invalidateQueries({ queryKey: SUBSCRIPTION_KEY });
    void queryClient.invalidateQueries({ queryKey: PREVIEW_KEY });
  };
  const change = useMutation({ mutationFn: (planId: string) => api.billing().changePlan({ planId }), onSuccess });
  const cancel = useMutation({ mutationFn: () => api.billing().cancelSubscription({}), onSuccess });
  const failure = change.error ?? cancel.error;
  const busy = change.isPending || cancel.isPending;

  const current = s.plan?.id ?? "";
  const next = s.nextPlanId;
  const onFree = current === FREE_PLAN;
  const cancelling = next === FREE_PLAN;

  const choose = (plan: Plan) => {
    cancel.reset();
    change.reset();
    setPending({ kind: "change", plan });
    setConfirming(true);
  };
  const confirm = () => {
    if (!pending) return;
    const options = { onSettled: () => setConfirming(false) };
    if (pending.kind === "change") change.mutate(pending.plan.id, options);
    else cancel.mutate(undefined, options);
  };

  return (
    <div className="space-y-3">
      {!isOwner && (
        <p role="note" className="text-sm text-slate-600">
          {OWNERS_ONLY}: ask an owner of this organization to change it.
        </p>
      )}
      {failure && (
        <p role="alert" className="text-sm text-red-700">
          {errorMessage(failure)}
        </p>
      )}
      <ul className="grid gap-3 md:grid-cols-3">
        {plans.map((plan) => {
          const isCurrent = plan.id === current;
          let action;
          if (plan.byArrangement) {
            action = <p className="text-xs text-slate-500">Terms by arrangement: contact us.</p>;
          } else if (isCurrent && !next) {
            action = (
              <Button variant="secondary" disabled title={isOwner ? undefined : OWNERS_ONLY}>
                Current plan
              </Button>
            );
          } else if (plan.id === next) {
            action = (
              <Button variant="secondary" disabled title={isOwner ? undefined : OWNERS_ONLY}>
                Starts {formatTime(s.currentPeriodEnd)}
              </Button>
            );
          } else {
            action = (
              <Button disabled={!isOwner || busy} title={isOwner ? undefined : OWNERS_ONLY} onClick={() => choose(plan)}>
                {isCurrent ? `Keep ${plan.name}` : `Switch to ${plan.name}`}
              </Button>
            );
          }
          return (
            <li key={plan.id} className={`flex flex-col rounded-lg border p-3 ${isCurrent ? "border-indigo-300 bg-indigo-50/40" : "border-slate-200"}`}>
              <div className="flex items-center gap-2">
                <h3 className="text-sm font-semibold text-slate-900">{plan.name}</h3>
                {isCurrent && <Badge tone="indigo">Current</Badge>}
              </div>
              <p className="mt-1 text-xs text-slate-600">{plan.description}</p>
              <PlanTerms plan={plan} />
              <div className="mt-auto pt-3">{action}</div>
            </li>
          );
        })}
      </ul>
      <div className="flex flex-wrap items-center gap-2 border-t border-slate-100 pt-3">
        <Button
          variant="danger"
          disabled={!isOwner || onFree || cancelling || busy}
          title={!isOwner ? OWNERS_ONLY : onFree ? "The free plan has nothing to cancel" : cancelling ? "The plan already ends at the end of the period" : undefined}
          onClick={() => {
            change.reset();
            cancel.reset();
            setPending({ kind: "cancel" });
            setConfirming(true);
          }}
        >
          Cancel at period end
        </Button>
        <span className="text-xs text-slate-500">
          {onFree ? "You are on the free plan." : `Back to the free plan on ${formatTime(s.currentPeriodEnd)}; until then ${s.plan?.name ?? "the plan"} stays in force.`}
        </span>
      </div>
      <ConfirmDialog
        open={confirming}
        title={
          pending?.kind === "cancel"
            ? `Cancel ${s.plan?.name ?? "the plan"} at period end?`
            : pending?.plan.id === current
              ? `Keep ${pending.plan.name}?`
              : `Switch to ${pending?.plan.name ?? ""}?`
        }
        confirmLabel={pending?.kind === "cancel" ? "Back to Free at period end" : pending?.plan.id === current ? "Keep plan" : "Switch plan"}
        danger={pending?.kind === "cancel"}
        busy={busy}
        onCancel={() => setConfirming(false)}
        onConfirm={confirm}
      >
        {pending?.kind === "cancel"
          ? `${s.plan?.name ?? "The plan"} stays in force until ${formatTime(s.currentPeriodEnd)}; then the organization is on the free plan and its limits apply. Switching to a paid plan before then undoes this.`
          : pending && changeText(pending.plan, s, plans)}
      </ConfirmDialog>
    </div>
  );
}

/** The plans a tenant can choose; owners change them here. */
export function ChangePlanCard() {
  const subscription = useSubscription();
  const plans = usePlans();
  return (
    <Card title="Change plan">
      <QueryView query={plans} feature="Billing" loadingLabel="Loading the plans">
        {(list) => (
          <QueryView query={subscription} feature="Billing" loadingLabel="Loading the subscription">
            {(s) => (s ? <PlanChoices s={s} plans={list} /> : null)}
          </QueryView>
        )}
      </QueryView>
    </Card>
  );
}
