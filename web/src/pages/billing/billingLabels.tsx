import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { InvoiceStatus, SubscriptionStatus, type Plan } from "@spot-optimizer/sdk/gen/spot/billing/v1/billing_pb.js";
import { toDate } from "../../api/format";
import { Badge } from "../../components/ui";

export const FREE_PLAN = "free";

/** Basis points as a percentage: 2000 -> "20 %", 1550 -> "15.5 %". */
export function formatShare(basisPoints: number): string {
  return `${(basisPoints / 100).toLocaleString(undefined, { maximumFractionDigits: 2 })} %`;
}

/** A plan limit, where 0 means none. */
export const formatLimit = (limit: number) => (limit === 0 ? "No limit" : limit.toLocaleString());

/** A billing period (a calendar month in UTC): "December 2026". */
export function formatPeriod(start: Timestamp | undefined): string {
  const date = toDate(start);
  return date ? date.toLocaleDateString(undefined, { month: "long", year: "numeric", timeZone: "UTC" }) : "—";
}

export const planName = (plans: Plan[] | undefined, id: string) => plans?.find((p) => p.id === id)?.name ?? id;

export function SubscriptionStatusBadge({ status }: { status: SubscriptionStatus }) {
  if (status === SubscriptionStatus.PAST_DUE) return <Badge tone="red">Past due</Badge>;
  if (status === SubscriptionStatus.ACTIVE) return <Badge tone="green">Active</Badge>;
  return <Badge>Unknown</Badge>;
}

export function InvoiceStatusBadge({ status }: { status: InvoiceStatus }) {
  switch (status) {
    case InvoiceStatus.DRAFT:
      return <Badge tone="sky">Draft</Badge>;
    case InvoiceStatus.OPEN:
      return <Badge tone="amber">Open</Badge>;
    case InvoiceStatus.PAID:
      return <Badge tone="green">Paid</Badge>;
    case InvoiceStatus.NOTHING_DUE:
      return <Badge>Nothing due</Badge>;
    default:
      return <Badge>Unknown</Badge>;
  }
}
