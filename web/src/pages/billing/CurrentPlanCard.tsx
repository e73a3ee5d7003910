import { SubscriptionStatus, type Plan, type Subscription } from "@spot-optimizer/sdk/gen/spot/billing/v1/billing_pb.js";
import type { ReactNode } from "react";
import { formatTime, toDate } from "../../api/format";
import { formatMoney, isZero } from "../../components/money";
import { Empty, QueryView } from "../../components/states";
import { useSubscription } from "../../components/useSubscription";
import { Card } from "../../components/ui";
import { formatLimit, formatPeriod, formatShare, planName, SubscriptionStatusBadge } from "./billingLabels";
import { usePlans } from "./useBilling";

function Term({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt className="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</dt>
      <dd className="mt-0.5 text-sm text-slate-900">{children}</dd>
    </div>
  );
}

function SubscriptionDetails({ s, plans }: { s: Subscription; plans: Plan[] | undefined }) {
  const plan = s.plan;
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-2">
        <p className="text-lg font-semibold text-slate-900" data-testid="billing-plan">
          {plan?.name ?? "—"}
        </p>
        <span data-testid="billing-status">
          <SubscriptionStatusBadge status={s.status} />
        </span>
      </div>
      {plan?.description && <p className="text-sm text-slate-600">{plan.description}</p>}
      {s.status === SubscriptionStatus.PAST_DUE && (
        <div role="note" className="rounded-md border border-red-200 bg-red-50 p-2 text-sm text-red-800" data-testid="billing-past-due">
          <p>Past due since {formatTime(s.pastDueSince)}: a payment failed.</p>
          {toDate(s.limitedFrom) && (
            <p className="mt-1">
              From {formatTime(s.limitedFrom)} the platform only recommends changes until an invoice is paid; interruption handling continues.
            </p>
          )}
        </div>
      )}
      {s.nextPlanId && (
        <p role="note" className="rounded-md border border-amber-200 bg-amber-50 p-2 text-sm text-amber-900" data-testid="billing-pending-change">
          Changes to <strong>{planName(plans, s.nextPlanId)}</strong> at the end of the period, {formatTime(s.currentPeriodEnd)}.
        </p>
      )}
      {plan && (
        <dl className="grid grid-cols-2 gap-3">
          <Term label="Share of savings">{plan.shareBasisPoints === 0 ? "None" : formatShare(plan.shareBasisPoints)}</Term>
          <Term label="Monthly minimum">{isZero(plan.monthlyMinimum) ? "None" : formatMoney(plan.monthlyMinimum)}</Term>
          <Term label="Clusters">{formatLimit(plan.maxClusters)}</Term>
          <Term label="Nodes per cluster">{formatLimit(plan.maxNodesPerCluster)}</Term>
          <Term label="Period">
            {formatPeriod(s.currentPeriodStart)} <span className="text-xs text-slate-500">(UTC)</span>
          </Term>
          <Term label="On this plan since">{formatTime(s.planSince)}</Term>
        </dl>
      )}
    </div>
  );
}

/** The plan the tenant is on, its terms and limits, its status and any change waiting for the period's end. */
export function CurrentPlanCard({ className = "" }: { className?: string }) {
  const subscription = useSubscription();
  const plans = usePlans();
  return (
    <Card title="Current plan" className={className}>
      <QueryView query={subscription} feature="Billing" loadingLabel="Loading the subscription" isEmpty={(s) => !s} empty={<Empty title="No subscription" />}>
        {(s) => s && <SubscriptionDetails s={s} plans={plans.data} />}
      </QueryView>
    </Card>
  );
}
