import { Cell, Pie, PieChart, ResponsiveContainer } from "recharts";
import { formatPercent } from "../../api/format";
import { QueryView } from "../../components/states";
import { Card } from "../../components/ui";
import { useKpis } from "./useKpis";

/** The share of capacity on spot, as a ring. */
export function SpotShareCard({ clusterId }: { clusterId: string }) {
  const query = useKpis(clusterId);
  return (
    <Card title="Spot share">
      <QueryView query={query} feature="The dashboard">
        {(kpis) => {
          const spot = Math.min(100, Math.max(0, kpis?.spotSharePercent ?? 0));
          const data = [
            { name: "Spot", value: spot },
            { name: "On-demand", value: 100 - spot },
          ];
          return (
            <div className="relative h-64" role="img" aria-label={`Spot share ${formatPercent(spot)}, on-demand ${formatPercent(100 - spot)}`}>
              <ResponsiveContainer width="100%" height="100%">
                <PieChart>
                  <Pie data={data} dataKey="value" innerRadius="60%" outerRadius="85%" startAngle={90} endAngle={-270} isAnimationActive={false}>
                    <Cell fill="#4f46e5" />
                    <Cell fill="#e2e8f0" />
                  </Pie>
                </PieChart>
              </ResponsiveContainer>
              <div className="pointer-events-none absolute inset-0 flex flex-col items-center justify-center">
                <span className="text-2xl font-semibold">{formatPercent(spot)}</span>
                <span className="text-xs text-slate-500">on spot · {kpis?.nodes ?? 0} nodes</span>
              </div>
            </div>
          );
        }}
      </QueryView>
    </Card>
  );
}
