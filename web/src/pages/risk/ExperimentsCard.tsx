import { ExperimentKind, ExperimentState } from "@spot-optimizer/sdk/gen/spot/risk/v1/risk_pb.js";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { enumLabel, formatTime, formatUsdPerHour } from "../../api/format";
import { errorMessage } from "../../api/errors";
import { Empty, QueryView } from "../../components/states";
import { Badge, Button, Card, Table, Td } from "../../components/ui";
import { ExperimentForm } from "./ExperimentForm";

/** The lab: candidate models and strategies running in shadow, and how they compare. */
export function ExperimentsCard() {
  const queryClient = useQueryClient();
  const experiments = useQuery({
    queryKey: ["experiments"],
    queryFn: async () => (await api.experiments().listExperiments({ page: { pageSize: 50 } })).experiments,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["experiments"] });
  const stop = useMutation({ mutationFn: (id: string) => api.experiments().stopExperiment({ id }), onSettled: refresh });
  const archive = useMutation({ mutationFn: (id: string) => api.experiments().archiveExperiment({ id }), onSettled: refresh });
  const failure = stop.error ?? archive.error;
  return (
    <Card title="Lab experiments">
      <QueryView query={experiments} feature="The lab">
        {(list) => (
          <div className="grid gap-4 lg:grid-cols-3">
            <div className="lg:col-span-2">
              {failure && (
                <p role="alert" className="mb-2 text-sm text-red-700">
                  {errorMessage(failure)}
                </p>
              )}
              {list.length === 0 ? (
                <Empty title="No experiments">Start one to compare a candidate with the live model, without touching any cluster.</Empty>
              ) : (
                <Table caption="Experiments" head={["Name", "Kind", "State", "Decisions", "Brier live / candidate", "Cost live / candidate", "Started", ""]}>
                  {list.map((e) => (
                    <tr key={e.id}>
                      <Td>
                        <span className="font-medium">{e.name}</span>
                        <span className="block text-xs text-slate-500">
                          {e.candidate} vs {e.live} (live)
                        </span>
                        {e.report?.summary && <span className="block max-w-md text-xs text-slate-600">{e.report.summary}</span>}
                        {e.stopReason && <span className="block text-xs text-slate-500">Stopped: {e.stopReason}</span>}
                      </Td>
                      <Td>{enumLabel(ExperimentKind[e.kind])}</Td>
                      <Td>
                        <Badge tone={e.state === ExperimentState.RUNNING ? "green" : "slate"}>{enumLabel(ExperimentState[e.state])}</Badge>
                      </Td>
                      <Td>{e.report?.decisions ?? 0}</Td>
                      <Td>
                        {e.report && e.kind === ExperimentKind.RISK_MODEL && e.report.maturedDecisions > 0
                          ? `${e.report.liveBrier.toFixed(4)} / ${e.report.candidateBrier.toFixed(4)}`
                          : "—"}
                      </Td>
                      <Td>
                        {e.report && e.kind === ExperimentKind.OPTIMIZER_STRATEGY && e.report.decisions > 0
                          ? `${formatUsdPerHour(e.report.liveCostUsdPerHour)} / ${formatUsdPerHour(e.report.candidateCostUsdPerHour)}`
                          : "—"}
                      </Td>
                      <Td>{formatTime(e.startedAt)}</Td>
                      <Td>
                        {e.state === ExperimentState.RUNNING ? (
                          <Button variant="secondary" onClick={() => stop.mutate(e.id)} aria-label={`Stop ${e.name}`}>
                            Stop
                          </Button>
                        ) : e.state === ExperimentState.STOPPED ? (
                          <Button variant="ghost" onClick={() => archive.mutate(e.id)} aria-label={`Archive ${e.name}`}>
                            Archive
                          </Button>
                        ) : null}
                      </Td>
                    </tr>
                  ))}
                </Table>
              )}
            </div>
            <ExperimentForm />
          </div>
        )}
      </QueryView>
    </Card>
  );
}
