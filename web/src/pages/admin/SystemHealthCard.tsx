import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { Empty, QueryView } from "../../components/states";
import { Badge, Card, Table, Td } from "../../components/ui";

export function SystemHealthCard() {
  const health = useQuery({
    queryKey: ["system-health"],
    queryFn: async () => (await api.admin().getSystemHealth({})).services,
    refetchInterval: 10_000,
  });
  return (
    <Card title="Service health">
      <QueryView query={health} feature="System health" isEmpty={(s) => s.length === 0} empty={<Empty title="No services reported" />}>
        {(services) => (
          <Table caption="Service health" head={["Service", "State", "Detail"]}>
            {services.map((s) => (
              <tr key={s.service}>
                <Td className="font-medium">{s.service}</Td>
                <Td>{s.serving ? <Badge tone="green">Serving</Badge> : <Badge tone="red">Not serving</Badge>}</Td>
                <Td className="text-xs">{s.detail || "—"}</Td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </Card>
  );
}
