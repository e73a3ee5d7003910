import { create } from "@bufbuild/protobuf";
import { ExperimentKind, ExperimentSchema } from "@spot-optimizer/sdk/gen/spot/risk/v1/risk_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { useClusters } from "../../components/ClusterPicker";
import { CheckboxField, SelectField, TextField } from "../../components/fields";
import { Button } from "../../components/ui";

export function ExperimentForm() {
  const queryClient = useQueryClient();
  const clusters = useClusters();
  const [name, setName] = useState("");
  const [kind, setKind] = useState(ExperimentKind.RISK_MODEL);
  const [candidate, setCandidate] = useState("");
  const [hours, setHours] = useState("24");
  const [clusterIds, setClusterIds] = useState<string[]>([]);
  const start = useMutation({
    mutationFn: () =>
      api.experiments().createExperiment({
        experiment: create(ExperimentSchema, { name, kind, candidate, clusterIds, durationHours: Math.max(1, Number(hours) || 1) }),
      }),
    onSuccess: () => {
      setName("");
      void queryClient.invalidateQueries({ queryKey: ["experiments"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate();
  };
  return (
    <form onSubmit={submit} className="space-y-2" aria-label="New experiment">
      <TextField label="Experiment name" required value={name} onChange={(e) => setName(e.target.value)} />
      <SelectField label="Kind" value={kind} onChange={(e) => setKind(Number(e.target.value))}>
        <option value={ExperimentKind.RISK_MODEL}>Risk model</option>
        <option value={ExperimentKind.OPTIMIZER_STRATEGY}>Optimizer strategy</option>
      </SelectField>
      <TextField label="Candidate" required value={candidate} onChange={(e) => setCandidate(e.target.value)} hint={kind === ExperimentKind.RISK_MODEL ? "A risk model version, e.g. bucket-prior-v1 (live: recency-v1)." : "A strategy, e.g. cost-aware-ffd or cheapest-per-pod (live: lp-guided-ffd)."} />
      <TextField label="Duration (hours)" type="number" min={1} value={hours} onChange={(e) => setHours(e.target.value)} />
      <fieldset>
        <legend className="text-sm font-medium text-slate-700">Clusters</legend>
        <div className="mt-1 space-y-1">
          {(clusters.data ?? []).map((c) => (
            <CheckboxField
              key={c.id}
              label={c.name}
              checked={clusterIds.includes(c.id)}
              onChange={(e) => setClusterIds(e.target.checked ? [...clusterIds, c.id] : clusterIds.filter((id) => id !== c.id))}
            />
          ))}
        </div>
      </fieldset>
      {start.isError && (
        <p role="alert" className="text-sm text-red-700">
          {errorMessage(start.error)}
        </p>
      )}
      <Button type="submit" disabled={start.isPending}>
        Start experiment
      </Button>
    </form>
  );
}
