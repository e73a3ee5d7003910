import type { cluster } from "@spot-optimizer/sdk";
import { useQueries } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import { api } from "../../api/clients";
import { formatTime, toDate } from "../../api/format";
import { useServerStream } from "../../api/useServerStream";
import { useClusters } from "../../components/ClusterPicker";
import { Empty, ErrorState, Loading } from "../../components/states";
import { StreamStatus } from "../../components/StreamStatus";
import { Badge, Card } from "../../components/ui";

// Live streams are kept to a few clusters: each is an open HTTP request in the browser.
const MAX_STREAMS = 4;

/** One WatchCluster stream feeding the shared list; renders its status only. */
function ClusterStream({ clusterId, onEvent, showStatus }: { clusterId: string; onEvent(e: cluster.ClusterEvent): void; showStatus: boolean }) {
  const state = useServerStream(
    (options) => api.clusters().watchCluster({ clusterId }, options),
    (message) => message.event && onEvent(message.event),
    [clusterId],
  );
  return showStatus ? <StreamStatus state={state} /> : null;
}

export function EventFeed({ clusterId }: { clusterId: string }) {
  const clusters = useClusters();
  const ids = useMemo(
    () => (clusterId ? [clusterId] : (clusters.data ?? []).map((c) => c.id)).slice(0, MAX_STREAMS),
    [clusterId, clusters.data],
  );
  const names = new Map((clusters.data ?? []).map((c) => [c.id, c.name]));
  const history = useQueries({
    queries: ids.map((id) => ({
      queryKey: ["cluster-events", id],
      queryFn: async () => (await api.clusters().listClusterEvents({ clusterId: id, page: { pageSize: 20 } })).events,
    })),
  });
  const [live, setLive] = useState<cluster.ClusterEvent[]>([]);
  const onEvent = useCallback((event: cluster.ClusterEvent) => setLive((prev) => [event, ...prev].slice(0, 100)), []);

  const events = useMemo(() => {
    const seen = new Map<string, cluster.ClusterEvent>();
    for (const e of [...live, ...history.flatMap((q) => q.data ?? [])]) {
      if (ids.includes(e.clusterId) && !seen.has(e.id)) seen.set(e.id, e);
    }
    return [...seen.values()].sort((a, b) => (toDate(b.at)?.getTime() ?? 0) - (toDate(a.at)?.getTime() ?? 0)).slice(0, 30);
  }, [live, history, ids]);

  // Without a cluster of its own, the feed needs the cluster list: its failure is the feed's.
  const failed = [...(clusterId ? [] : [clusters]), ...history].find((q) => q.isError);
  return (
    <Card
      title="Live events"
      actions={
        <span className="flex gap-1">
          {ids.map((id, i) => (
            <ClusterStream key={id} clusterId={id} onEvent={onEvent} showStatus={i === 0} />
          ))}
        </span>
      }
    >
      {clusters.isPending || history.some((q) => q.isPending) ? (
        <Loading label="Loading events" />
      ) : failed ? (
        <ErrorState error={failed.error} feature="Cluster events" />
      ) : events.length === 0 ? (
        <Empty title="No events yet">Agent connections, actions, interruptions and plans show up here as they happen.</Empty>
      ) : (
        <ol aria-label="Recent cluster events" aria-live="polite" className="max-h-72 divide-y divide-slate-100 overflow-y-auto text-sm">
          {events.map((e) => (
            <li key={e.id} className="flex items-start gap-3 py-1.5">
              <time className="w-40 shrink-0 text-xs text-slate-500">{formatTime(e.at)}</time>
              <Badge tone="indigo">{e.kind}</Badge>
              <span className="text-xs text-slate-500">{names.get(e.clusterId) ?? e.clusterId}</span>
              <span className="min-w-0 flex-1">{e.message}</span>
            </li>
          ))}
        </ol>
      )}
    </Card>
  );
}
