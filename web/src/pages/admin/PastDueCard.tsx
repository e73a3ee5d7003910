import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { formatTime } from "../../api/format";
import { formatMoney } from "../../components/money";
import { Empty, QueryView } from "../../components/states";
import { Card, Table, Td } from "../../components/ui";

/** The tenants whose payment failed, and since when they are limited to recommendations. */
export function PastDueCard() {
  const pastDue = useQuery({
    queryKey: ["billing-past-due"],
    queryFn: async () => (await api.billingAdmin().listSubscriptions({ pastDueOnly: true })).tenants,
    refetchInterval: 60_000,
  });
  return (
    <Card title="Past-due subscriptions">
      <QueryView query={pastDue} feature="Billing" isEmpty={(list) => list.length === 0} empty={<Empty title="No tenant is past due" />}>
        {(list) => (
          <Table caption="Past-due subscriptions" head={["Tenant", "Plan", "Past due since", "Limited from", "Open period"]}>
            {list.map(({ subscription: s, preview }, i) => (
              <tr key={s?.tenantId ?? i}>
                <Td className="font-mono text-xs">{s?.tenantId ?? "—"}</Td>
                <Td>{s?.plan?.name ?? "—"}</Td>
                <Td>{formatTime(s?.pastDueSince)}</Td>
                <Td>{formatTime(s?.limitedFrom)}</Td>
                <Td className="tabular-nums">{formatMoney(preview?.total)}</Td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </Card>
  );
}
