import { PodPhase } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/clients";
import { enumLabel, formatCpu, formatMib } from "../../api/format";
import { Empty, QueryView } from "../../components/states";
import { Badge, Button, Card, Table, Td } from "../../components/ui";

const PAGE = 50;

/** The cluster's pods, a page at a time. */
export function PodsTable({ clusterId }: { clusterId: string }) {
  const [tokens, setTokens] = useState<string[]>([""]);
  const pageToken = tokens[tokens.length - 1];
  const query = useQuery({
    queryKey: ["pods", clusterId, pageToken],
    queryFn: () => api.clusters().listPods({ clusterId, page: { pageSize: PAGE, pageToken } }),
    placeholderData: keepPreviousData,
  });
  const next = query.data?.page?.nextPageToken;
  return (
    <Card
      title="Pods"
      actions={
        <nav aria-label="Pods pages" className="flex items-center gap-2 text-sm">
          <span className="text-slate-500">Page {tokens.length}</span>
          <Button variant="secondary" disabled={tokens.length === 1} onClick={() => setTokens(tokens.slice(0, -1))}>
            Previous
          </Button>
          <Button variant="secondary" disabled={!next} onClick={() => next && setTokens([...tokens, next])}>
            Next
          </Button>
        </nav>
      }
    >
      <QueryView
        query={query}
        feature="Pods"
        isEmpty={(r) => r.pods.length === 0}
        empty={<Empty title="No pods reported">Pods appear when the agent sends its first snapshot.</Empty>}
      >
        {(response) => (
          <Table caption="Pods" head={["Namespace", "Name", "Owner", "Node", "CPU request", "Memory request", "Phase"]}>
            {response.pods.map((p) => (
              <tr key={p.uid || `${p.namespace}/${p.name}`}>
                <Td>{p.namespace}</Td>
                <Td className="font-mono text-xs">{p.name}</Td>
                <Td>{p.ownerKind || "—"}</Td>
                <Td className="font-mono text-xs">{p.nodeName || <Badge tone="amber">Unscheduled</Badge>}</Td>
                <Td>{p.requests ? formatCpu(p.requests.cpuMillis) : "—"}</Td>
                <Td>{p.requests ? formatMib(p.requests.memoryMib) : "—"}</Td>
                <Td>{enumLabel(PodPhase[p.phase])}</Td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </Card>
  );
}
