import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api } from "../../api/clients";
import { formatTime, formatUsd } from "../../api/format";
import { Empty, QueryView } from "../../components/states";
import { Card, Table, Td } from "../../components/ui";
import { PlanStateBadge, planKindLabel } from "./planLabels";

export function PlansList({ clusterId }: { clusterId: string }) {
  const plans = useQuery({
    queryKey: ["plans", clusterId],
    queryFn: async () => (await api.optimizer().listPlans({ clusterId, page: { pageSize: 30 } })).plans,
    refetchInterval: 10_000,
  });
  return (
    <Card title="Plans">
      <QueryView
        query={plans}
        feature="Plans"
        isEmpty={(list) => list.length === 0}
        empty={<Empty title="No plans yet">Recommendations and the autopilot's plans for this cluster are listed here.</Empty>}
      >
        {(list) => (
          <Table caption="Plans" head={["Created", "Kind", "State", "Steps", "Saving per month", "Strategy", "Reason"]}>
            {list.map((p) => (
              <tr key={p.id}>
                <Td>
                  <Link to={`/optimizer/plans/${p.id}`} className="text-indigo-700 hover:underline">
                    {formatTime(p.createdAt)}
                  </Link>
                </Td>
                <Td>{planKindLabel(p.kind)}</Td>
                <Td>
                  <PlanStateBadge state={p.state} />
                </Td>
                <Td>{p.steps.length}</Td>
                <Td>{formatUsd(p.savingsUsdPerMonth)}</Td>
                <Td>{p.strategy}</Td>
                <Td className="max-w-xs truncate text-xs" >{p.reason}</Td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </Card>
  );
}
