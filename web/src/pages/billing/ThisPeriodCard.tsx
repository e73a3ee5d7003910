import { useQuery } from "@tanstack/react-query";
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api } from "../../api/clients";
import { toDate } from "../../api/format";
import { formatMajor, formatMoney, microsToMajor } from "../../components/money";
import { Empty, QueryView } from "../../components/states";
import { Card } from "../../components/ui";
import { formatPeriod } from "./billingLabels";
import { savingsPerDay } from "./savingsPerDay";
import { usePreview } from "./useBilling";

function Figure({ label, value, detail, testId }: { label: string; value: string; detail?: string; testId: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-3">
      <dt className="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</dt>
      <dd className="mt-1 text-xl font-semibold text-slate-900" data-testid={testId}>
        {value}
      </dd>
      {detail && <dd className="text-xs text-slate-500">{detail}</dd>}
    </div>
  );
}

const dayLabel = (day: string) => new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

/** The metered savings per UTC day of the open period. */
function SavingsChart({ from, until, currency }: { from: Date | null; until: Date | null; currency: string }) {
  const usage = useQuery({
    queryKey: ["billing-usage"],
    queryFn: async () => (await api.billing().getUsage({})).records,
    refetchInterval: 5 * 60_000,
  });
  return (
    <QueryView
      query={usage}
      feature="Usage"
      loadingLabel="Loading the metered hours"
      isEmpty={(records) => records.length === 0}
      empty={<Empty title="No metered hours yet">Hours are metered once a cluster's agent reports its nodes; hours without a report are not billed.</Empty>}
    >
      {(records) => {
        const days = savingsPerDay(records, from, until).map((d) => ({ day: d.day, label: dayLabel(d.day), savings: microsToMajor(d.micros) }));
        const cur = currency || records[0]?.currency || "USD";
        return (
          <div className="h-56" role="img" aria-label={`Savings per day (UTC) this period, ${days.length} days`}>
            <ResponsiveContainer width="100%" height="100%">
              <BarChart data={days} margin={{ left: 8, right: 8, top: 8 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" vertical={false} />
                <XAxis dataKey="label" fontSize={11} />
                <YAxis tickFormatter={(v: number) => formatMajor(v, cur)} fontSize={11} width={64} />
                <Tooltip formatter={(v) => formatMajor(Number(v), cur)} labelFormatter={(label) => `${label} (UTC)`} />
                <Bar dataKey="savings" name="Savings" fill="#4f46e5" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </div>
        );
      }}
    </QueryView>
  );
}

/** The open period so far: realised savings, the fee on them, and the savings per day. */
export function ThisPeriodCard({ className = "" }: { className?: string }) {
  const preview = usePreview();
  return (
    <Card title="This period" className={className}>
      <QueryView query={preview} feature="Billing" loadingLabel="Loading the period" isEmpty={(invoice) => !invoice} empty={<Empty title="No open period" />}>
        {(invoice) => {
          if (!invoice) return null;
          const start = toDate(invoice.periodStart);
          const end = toDate(invoice.periodEnd);
          const now = new Date();
          const until = end && end < now ? end : now;
          return (
            <div className="space-y-3">
              <p className="text-xs text-slate-500">{formatPeriod(invoice.periodStart)}, in UTC days. Figures as they stand now; the invoice closes at the end of the month.</p>
              <dl className="grid grid-cols-2 gap-3">
                <Figure label="Savings so far" value={formatMoney(invoice.savings)} detail="On-demand cost minus what the nodes cost" testId="billing-preview-savings" />
                <Figure label="Fee so far" value={formatMoney(invoice.total)} detail="If the period closed now" testId="billing-preview-total" />
              </dl>
              <h3 className="text-xs font-medium uppercase tracking-wide text-slate-500">Savings per day</h3>
              <SavingsChart from={start} until={until} currency={invoice.savings?.currency ?? invoice.total?.currency ?? ""} />
            </div>
          );
        }}
      </QueryView>
    </Card>
  );
}
