import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { formatRelative, formatTime } from "../../api/format";
import { QueryView } from "../../components/states";
import { Badge, Card } from "../../components/ui";

export function AgentStatusCard({ clusterId }: { clusterId: string }) {
  const query = useQuery({
    queryKey: ["agent-status", clusterId],
    queryFn: () => api.clusters().getAgentStatus({ clusterId }),
    refetchInterval: 10_000,
  });
  return (
    <Card title="Agent">
      <QueryView query={query} feature="Agent status">
        {(status) => (
          <dl className="grid grid-cols-2 gap-3 text-sm md:grid-cols-4">
            <div>
              <dt className="text-xs text-slate-500">Connection</dt>
              <dd>{status.connected ? <Badge tone="green">Connected</Badge> : <Badge tone="red">Not connected</Badge>}</dd>
            </div>
            <div>
              <dt className="text-xs text-slate-500">Last heartbeat</dt>
              <dd title={formatTime(status.lastHeartbeatAt)}>{formatRelative(status.lastHeartbeatAt)}</dd>
            </div>
            <div>
              <dt className="text-xs text-slate-500">Agent version</dt>
              <dd>{status.agentVersion || "—"}</dd>
            </div>
            <div>
              <dt className="text-xs text-slate-500">Kubernetes</dt>
              <dd>{status.kubernetesVersion || "—"}</dd>
            </div>
          </dl>
        )}
      </QueryView>
    </Card>
  );
}
