import { CapacityType } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api } from "../../api/clients";
import { formatUsdPerHour } from "../../api/format";
import { Empty, QueryView } from "../../components/states";
import { Badge, Card, Table, Td } from "../../components/ui";
import { fromDraft, type PolicyDraft } from "./policyDraft";

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/** The instance types and pools the draft admits in the region, updated as it is edited. */
export function PolicyPreview({ draft, clusterId, region }: { draft: PolicyDraft; clusterId: string; region: string }) {
  const settled = useDebounced(draft, 600);
  const { policy } = fromDraft(settled, clusterId);
  const query = useQuery({
    queryKey: ["policy-preview", clusterId, region, JSON.stringify(settled)],
    queryFn: () => api.policy().previewPolicy({ policy, region }),
    enabled: !!policy,
    placeholderData: keepPreviousData,
  });
  return (
    <Card title={`Admitted in ${region}`}>
      {!policy ? (
        <p className="text-sm text-slate-500">Fix the highlighted fields to see the preview.</p>
      ) : (
        <QueryView
          query={query}
          feature="The policy preview"
          loadingLabel="Computing admitted types"
          isEmpty={(r) => r.instanceTypes.length === 0}
          empty={<Empty title="No instance type is admitted">The optimizer could not place any node with this policy.</Empty>}
        >
          {(r) => {
            const pools = [...r.pools].sort((a, b) => a.usdPerHour - b.usdPerHour).slice(0, 40);
            return (
              <div className="space-y-3">
                <p className="text-sm" aria-live="polite">
                  <strong>{r.instanceTypes.length}</strong> instance types, <strong>{r.pools.length}</strong> pools.
                </p>
                {r.notes.map((note) => (
                  <p key={note} className="rounded bg-amber-50 p-2 text-xs text-amber-900">
                    {note}
                  </p>
                ))}
                <p className="max-h-24 overflow-y-auto text-xs text-slate-600">{r.instanceTypes.join(", ")}</p>
                <div className="max-h-96 overflow-y-auto">
                  <Table caption="Cheapest admitted pools" head={["Type", "Zone", "Capacity", "$/h", "Risk"]}>
                    {pools.map((p, i) => (
                      <tr key={i}>
                        <Td className="whitespace-nowrap text-xs">{p.pool?.instanceType}</Td>
                        <Td className="whitespace-nowrap text-xs">{p.pool?.zone}</Td>
                        <Td className="whitespace-nowrap">{p.capacityType === CapacityType.SPOT ? <Badge tone="indigo">Spot</Badge> : <Badge tone="sky">On-demand</Badge>}</Td>
                        <Td className="whitespace-nowrap text-xs">{formatUsdPerHour(p.usdPerHour)}</Td>
                        <Td className="text-xs">{p.interruptionBucket}</Td>
                      </tr>
                    ))}
                  </Table>
                </div>
              </div>
            );
          }}
        </QueryView>
      )}
    </Card>
  );
}
