import { SubscriptionStatus } from "@spot-optimizer/sdk/gen/spot/billing/v1/billing_pb.js";
import { Link } from "react-router";
import { formatTime, toDate } from "../api/format";
import { useSubscription } from "./useSubscription";

/** Tells every user of a tenant, on every page, that a payment failed and what that limits. */
export function PastDueBanner() {
  const subscription = useSubscription({ retry: false, refetchInterval: 60_000 });
  const s = subscription.data;
  if (subscription.isError || !s || s.status !== SubscriptionStatus.PAST_DUE) return null;
  const limitedFrom = toDate(s.limitedFrom);
  const limitedNow = !!limitedFrom && limitedFrom.getTime() <= Date.now();
  return (
    <div role="alert" data-testid="past-due-banner" className="border-b border-amber-200 bg-amber-50 px-6 py-2 text-sm text-amber-900">
      <strong>A payment failed{toDate(s.pastDueSince) ? ` on ${formatTime(s.pastDueSince)}` : ""}.</strong>{" "}
      {limitedFrom
        ? `${limitedNow ? "Since" : "From"} ${formatTime(s.limitedFrom)} the platform only recommends changes to your clusters until an invoice is paid; `
        : "After a grace period the platform only recommends changes to your clusters until an invoice is paid; "}
      interruption handling continues.{" "}
      <Link to="/billing" className="font-medium underline">
        Go to billing
      </Link>
    </div>
  );
}
