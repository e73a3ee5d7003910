import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { formatMoney } from "../../components/money";
import { Empty, QueryView } from "../../components/states";
import { Card, Table, Td } from "../../components/ui";
import { formatPeriod } from "../billing/billingLabels";

/** Invoiced and paid per month, the open period's running total, and who is past due. */
export function RevenueCard() {
  const revenue = useQuery({
    queryKey: ["billing-revenue"],
    queryFn: () => api.billingAdmin().getRevenue({}),
    refetchInterval: 60_000,
  });
  return (
    <Card title="Revenue">
      <QueryView query={revenue} feature="Billing">
        {(r) => (
          <div className="space-y-3">
            <p className="text-sm">
              Open period so far: <strong data-testid="revenue-open-period">{formatMoney(r.openPeriod)}</strong>
            </p>
            {r.months.length === 0 ? (
              <Empty title="No invoices yet" />
            ) : (
              <Table caption="Revenue per month" head={["Month (UTC)", "Invoiced", "Paid", "Invoices"]}>
                {r.months.map((m, i) => (
                  <tr key={i}>
                    <Td className="font-medium">{formatPeriod(m.periodStart)}</Td>
                    <Td className="tabular-nums">{formatMoney(m.invoiced)}</Td>
                    <Td className="tabular-nums">{formatMoney(m.paid)}</Td>
                    <Td className="tabular-nums">{m.invoices}</Td>
                  </tr>
                ))}
              </Table>
            )}
            <p className="text-sm">
              Past due:{" "}
              {r.pastDueTenantIds.length === 0 ? (
                "none"
              ) : (
                <span className="font-mono text-xs">{r.pastDueTenantIds.join(", ")}</span>
              )}
            </p>
          </div>
        )}
      </QueryView>
    </Card>
  );
}
