import type { RiskFlag } from "@spot-optimizer/sdk/gen/spot/risk/v1/risk_pb.js";
import { useQuery } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { api } from "../../api/clients";
import { formatRelative, formatTime, toDate } from "../../api/format";
import { useServerStream } from "../../api/useServerStream";
import { Empty, QueryView } from "../../components/states";
import { StreamStatus } from "../../components/StreamStatus";
import { Card, Table, Td } from "../../components/ui";

const poolKey = (f: RiskFlag) => `${f.pool?.region}/${f.pool?.zone}/${f.pool?.instanceType}`;

/** Active flags, kept live from WatchRiskFlags and dropped once expired. */
export function RiskFlagsCard({ region }: { region: string }) {
  const query = useQuery({
    queryKey: ["risk-flags", region],
    queryFn: async () => (await api.risk().listRiskFlags({ region })).flags,
    refetchInterval: 30_000,
  });
  const [live, setLive] = useState<Map<string, RiskFlag>>(new Map());
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    setLive(new Map());
  }, [region]);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 5_000);
    return () => clearInterval(timer);
  }, []);
  const onFlag = useCallback((flag: RiskFlag) => setLive((prev) => new Map(prev).set(poolKey(flag), flag)), []);
  const stream = useServerStream((options) => api.risk().watchRiskFlags({ region }, options), (m) => m.flag && onFlag(m.flag), [region]);

  const flags = useMemo(() => {
    const byPool = new Map<string, RiskFlag>();
    for (const f of query.data ?? []) byPool.set(poolKey(f), f);
    for (const [k, f] of live) byPool.set(k, f);
    return [...byPool.values()].filter((f) => (toDate(f.expiresAt)?.getTime() ?? 0) > now).sort((a, b) => poolKey(a).localeCompare(poolKey(b)));
  }, [query.data, live, now]);

  return (
    <Card title="Active risk flags" actions={<StreamStatus state={stream} />}>
      <QueryView
        query={query}
        feature="Risk flags"
        isEmpty={() => flags.length === 0}
        empty={<Empty title="No flagged pools">No interruption was seen recently in {region}.</Empty>}
      >
        {() => (
          <Table caption="Flagged pools" head={["Region", "Zone", "Instance type", "Expires"]}>
            {flags.map((f) => (
              <tr key={poolKey(f)}>
                <Td>{f.pool?.region}</Td>
                <Td>{f.pool?.zone}</Td>
                <Td>{f.pool?.instanceType}</Td>
                <Td>
                  <span title={formatTime(f.expiresAt)}>{formatRelative(f.expiresAt)}</span>
                </Td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </Card>
  );
}
