import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Area, AreaChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api } from "../../api/clients";
import { formatUsd, formatUsdPerHour, toDate } from "../../api/format";
import { SelectField } from "../../components/fields";
import { Empty, QueryView } from "../../components/states";
import { Card } from "../../components/ui";

const RANGES = { "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400 } as const;
type Range = keyof typeof RANGES;

/** Hourly cost against what on-demand would cost; the gap between them is the saving. */
export function CostChart({ clusterId, className = "" }: { clusterId: string; className?: string }) {
  const [range, setRange] = useState<Range>("6h");
  const query = useQuery({
    queryKey: ["cost-series", clusterId, range],
    queryFn: async () => {
      const since = timestampFromDate(new Date(Date.now() - RANGES[range] * 1000));
      const response = await api.dashboard().getCostSeries({ clusterId, since });
      return response.points.map((p) => ({
        at: toDate(p.at)?.getTime() ?? 0,
        cost: p.costUsdPerHour,
        onDemand: p.onDemandUsdPerHour,
      }));
    },
    refetchInterval: 15_000,
  });
  return (
    <Card
      title="Cost and savings over time"
      className={className}
      actions={
        <div className="w-28">
          <SelectField label="Range" value={range} onChange={(e) => setRange(e.target.value as Range)}>
            {Object.keys(RANGES).map((r) => (
              <option key={r} value={r}>
                Last {r}
              </option>
            ))}
          </SelectField>
        </div>
      }
    >
      <QueryView
        query={query}
        feature="The cost series"
        isEmpty={(points) => points.length === 0}
        empty={<Empty title="No cost samples yet">They appear once a cluster's agent reports its nodes.</Empty>}
      >
        {(points) => {
          // A short series (a new cluster) gets seconds on its axis.
          const short = points.length > 1 && points[points.length - 1].at - points[0].at < 15 * 60_000;
          return (
          <div className="h-64" role="img" aria-label={`Cost per hour against the on-demand equivalent, ${points.length} samples`}>
            <ResponsiveContainer width="100%" height="100%">
              <AreaChart data={points} margin={{ left: 8, right: 8, top: 8 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                <XAxis
                  dataKey="at"
                  type="number"
                  domain={["dataMin", "dataMax"]}
                  scale="time"
                  tickFormatter={(v: number) =>
                    new Date(v).toLocaleTimeString(undefined, short ? { hour: "2-digit", minute: "2-digit", second: "2-digit" } : { hour: "2-digit", minute: "2-digit" })
                  }
                  fontSize={11}
                />
                <YAxis tickFormatter={(v: number) => formatUsd(v)} fontSize={11} width={56} />
                <Tooltip labelFormatter={(v) => new Date(Number(v)).toLocaleString()} formatter={(v) => formatUsdPerHour(Number(v))} />
                <Legend />
                <Area type="stepAfter" dataKey="onDemand" name="On-demand equivalent ($/h)" stroke="#94a3b8" fill="#e2e8f0" isAnimationActive={false} />
                <Area type="stepAfter" dataKey="cost" name="Actual cost ($/h)" stroke="#4f46e5" fill="#c7d2fe" isAnimationActive={false} />
              </AreaChart>
            </ResponsiveContainer>
          </div>
          );
        }}
      </QueryView>
    </Card>
  );
}
