import { CapacityType, type Pool } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { Empty, QueryView } from "../../components/states";
import { Button, Card, Table, Td } from "../../components/ui";
import { TextField } from "../../components/fields";

/** The spot pools (one per zone that offers it) of each instance type, from the catalog. */
async function spotPools(region: string, instanceTypes: string[]): Promise<Pool[]> {
  const pools: Pool[] = [];
  for (const instanceType of instanceTypes) {
    const { prices } = await api.catalog().listPoolPrices({ region, instanceType });
    for (const price of prices) {
      if (price.capacityType === CapacityType.SPOT && price.available && price.pool) pools.push(price.pool);
    }
  }
  return pools;
}

/** Risk scores of chosen instance types' spot pools, with how each score is made up. */
export function RiskScoresCard({ region }: { region: string }) {
  const [types, setTypes] = useState("m5.large, c5.large, m6i.large");
  const [asked, setAsked] = useState(types);
  const instanceTypes = asked
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const scores = useQuery({
    queryKey: ["risk-scores", region, asked],
    queryFn: async () => {
      const pools = await spotPools(region, instanceTypes);
      if (pools.length === 0) return [];
      return (await api.risk().getRiskScores({ pools })).scores;
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setAsked(types);
  };
  return (
    <Card title={`Risk scores in ${region}`}>
      <form onSubmit={submit} className="mb-3 flex items-end gap-2">
        <div className="flex-1">
          <TextField label="Instance types" value={types} onChange={(e) => setTypes(e.target.value)} hint="Comma-separated." />
        </div>
        <Button type="submit" variant="secondary">
          Score
        </Button>
      </form>
      <QueryView query={scores} feature="Risk scores" isEmpty={(s) => s.length === 0} empty={<Empty title="No scores for these pools" />}>
        {(list) => (
          <Table caption="Risk scores" head={["Pool", "Score", "Model", "Components"]}>
            {list.map((s, i) => (
              <tr key={i}>
                <Td>
                  {s.pool?.instanceType} {s.pool?.zone}
                </Td>
                <Td className="font-semibold">{s.score.toFixed(2)}</Td>
                <Td>{s.modelVersion}</Td>
                <Td className="text-xs">
                  <ul>
                    {s.components.map((c) => (
                      <li key={c.name}>
                        {c.name}: {c.value.toFixed(2)} (×{c.weight.toPrecision(3)})
                      </li>
                    ))}
                  </ul>
                </Td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </Card>
  );
}
