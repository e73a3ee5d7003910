import { PageHeader } from "../../components/ui";
import { ChangePlanCard } from "./ChangePlanCard";
import { CurrentPlanCard } from "./CurrentPlanCard";
import { InvoicesCard } from "./InvoicesCard";
import { PreviewLinesCard } from "./PreviewLinesCard";
import { ThisPeriodCard } from "./ThisPeriodCard";

export function BillingPage() {
  return (
    <>
      <PageHeader
        title="Billing"
        description="Your plan, this month's savings and the fee on them, and past invoices. Periods are calendar months in UTC."
      />
      <div className="grid gap-4 lg:grid-cols-3">
        <CurrentPlanCard />
        <ThisPeriodCard className="lg:col-span-2" />
      </div>
      <div className="mt-4 space-y-4">
        <PreviewLinesCard />
        <ChangePlanCard />
        <InvoicesCard />
      </div>
    </>
  );
}
