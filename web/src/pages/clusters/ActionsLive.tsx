import { ActionStatus, type ActionRecord } from "@spot-optimizer/sdk/gen/spot/cluster/v1/cluster_pb.js";
import { useQuery } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import { api } from "../../api/clients";
import { enumLabel, formatRelative, formatTime, toDate } from "../../api/format";
import { useServerStream } from "../../api/useServerStream";
import { Empty, QueryView } from "../../components/states";
import { StreamStatus } from "../../components/StreamStatus";
import { Badge, Card, Table, Td } from "../../components/ui";
import { actionSentence } from "./actionLabels";
import { useClusterNodes } from "./NodesSection";

export function ActionStatusBadge({ status }: { status: ActionStatus }) {
  const tone =
    status === ActionStatus.SUCCEEDED ? "green" : status === ActionStatus.FAILED || status === ActionStatus.TIMED_OUT ? "red" : status === ActionStatus.REFUSED ? "amber" : "sky";
  return <Badge tone={tone}>{enumLabel(ActionStatus[status])}</Badge>;
}

/** The cluster's actions, updated live from WatchActions. */
export function ActionsLive({ clusterId }: { clusterId: string }) {
  const query = useQuery({
    queryKey: ["actions", clusterId],
    queryFn: async () => (await api.clusters().listActions({ clusterId, page: { pageSize: 50 } })).actions,
  });
  const [live, setLive] = useState<Map<string, ActionRecord>>(new Map());
  const onAction = useCallback((record: ActionRecord) => {
    const id = record.action?.id;
    if (id) setLive((prev) => new Map(prev).set(id, record));
  }, []);
  const stream = useServerStream((options) => api.clusters().watchActions({ clusterId }, options), (m) => m.action && onAction(m.action), [clusterId]);

  const merged = useMemo(() => {
    const byId = new Map<string, ActionRecord>();
    for (const a of query.data ?? []) if (a.action?.id) byId.set(a.action.id, a);
    for (const [id, a] of live) byId.set(id, a);
    return [...byId.values()].sort((a, b) => (toDate(b.createdAt)?.getTime() ?? 0) - (toDate(a.createdAt)?.getTime() ?? 0));
  }, [query.data, live]);

  const nodes = useClusterNodes(clusterId);
  const nodesByName = useMemo(() => new Map((nodes.data ?? []).map((n) => [n.name, n])), [nodes.data]);

  return (
    <Card title="Actions" actions={<StreamStatus state={stream} />}>
      <QueryView
        query={query}
        feature="Actions"
        isEmpty={() => merged.length === 0}
        empty={<Empty title="No actions yet">Cordons, drains and node deletions the platform sends to the agent appear here live.</Empty>}
      >
        {() => (
          <div className="max-h-80 overflow-y-auto">
            <Table caption="Actions" head={["Action", "Status", "Message", "Updated"]}>
              {merged.map((a) => (
                <tr key={a.action?.id}>
                  <Td className="break-words">{actionSentence(a.action, nodesByName.get(a.action?.nodeName ?? ""))}</Td>
                  <Td>
                    <ActionStatusBadge status={a.status} />
                  </Td>
                  <Td className="text-xs">{a.message}</Td>
                  <Td className="whitespace-nowrap text-xs">
                    <span title={formatTime(a.updatedAt ?? a.createdAt)}>{formatRelative(a.updatedAt ?? a.createdAt)}</span>
                  </Td>
                </tr>
              ))}
            </Table>
          </div>
        )}
      </QueryView>
    </Card>
  );
}
