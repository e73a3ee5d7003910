import { HibernationRunStatus, HibernationStepStatus } from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { enumLabel, formatTime } from "../../api/format";
import { Empty, QueryView } from "../../components/states";
import { Badge, Card } from "../../components/ui";

const statusTone = (status: HibernationRunStatus) =>
  status === HibernationRunStatus.SUCCEEDED ? "green" : status === HibernationRunStatus.FAILED ? "red" : status === HibernationRunStatus.REFUSED ? "amber" : "sky";

/** The cluster's hibernate and wake runs, newest first, with each run's progress. */
export function HibernationRunsCard({ clusterId }: { clusterId: string }) {
  const runs = useQuery({
    queryKey: ["hibernation-runs", clusterId],
    queryFn: async () => (await api.hibernation().listHibernationRuns({ clusterId, page: { pageSize: 10 } })).runs,
    refetchInterval: 10_000,
  });
  return (
    <Card title="Runs">
      <QueryView
        query={runs}
        feature="Hibernation runs"
        isEmpty={(list) => list.length === 0}
        empty={<Empty title="No runs yet">Each time the cluster goes to sleep or wakes up, the run and its steps show here.</Empty>}
      >
        {(list) => (
          <ul className="divide-y divide-slate-100">
            {list.map((run) => {
              const finished = run.steps.filter((s) => s.status >= HibernationStepStatus.SUCCEEDED).length;
              return (
                <li key={run.id} className="py-2 text-sm">
                  <div className="flex flex-wrap items-center gap-2">
                    <span className="font-medium">{run.kind === "wake" ? "Wake" : "Hibernate"}</span>
                    <Badge tone={statusTone(run.status)}>{enumLabel(HibernationRunStatus[run.status])}</Badge>
                    <span className="text-xs text-slate-500">
                      {formatTime(run.startedAt)}
                      {run.finishedAt && ` → ${formatTime(run.finishedAt)}`}
                    </span>
                    <span className="text-xs text-slate-500">
                      {finished} of {run.steps.length} steps
                    </span>
                  </div>
                  {run.reason && <p className="text-xs text-slate-600">{run.reason}</p>}
                  {run.keptNodes.length > 0 && <p className="text-xs text-slate-500">Kept running: {run.keptNodes.join(", ")}</p>}
                </li>
              );
            })}
          </ul>
        )}
      </QueryView>
    </Card>
  );
}
