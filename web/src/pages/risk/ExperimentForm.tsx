import { create } from "@bufbuild/protobuf";
import { ExperimentKind, ExperimentSchema } from "@spot-optimizer/sdk/gen/spot/risk/v1/risk_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { formErrors } from "../../api/errors";
import { useClusters } from "../../components/ClusterPicker";
import { FieldErrorSummary, summaryOf } from "../../components/FieldErrorSummary";
import { CheckboxField, SelectField, TextField } from "../../components/fields";
import { Button } from "../../components/ui";

const INPUTS = {
  name: { id: "experiment-name", label: "Experiment name" },
  kind: { id: "experiment-kind", label: "Kind" },
  candidate: { id: "experiment-candidate", label: "Candidate" },
  duration_hours: { id: "experiment-duration", label: "Duration (hours)" },
  cluster_ids: { id: "experiment-clusters", label: "Clusters" },
};
const INPUT_KEYS = Object.keys(INPUTS) as (keyof typeof INPUTS)[];

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
  const errors = formErrors(start.error, "experiment", INPUT_KEYS);
  const clustersErrorId = `${INPUTS.cluster_ids.id}-error`;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate();
  };
  return (
    <form onSubmit={submit} noValidate className="space-y-2" aria-label="New experiment">
      <FieldErrorSummary title="The experiment was not started" items={summaryOf(errors, INPUTS)} />
      <TextField {...INPUTS.name} required value={name} onChange={(e) => setName(e.target.value)} error={errors.fields.name} />
      <SelectField {...INPUTS.kind} value={kind} onChange={(e) => setKind(Number(e.target.value))} error={errors.fields.kind}>
        <option value={ExperimentKind.RISK_MODEL}>Risk model</option>
        <option value={ExperimentKind.OPTIMIZER_STRATEGY}>Optimizer strategy</option>
      </SelectField>
      <TextField
        {...INPUTS.candidate}
        required
        value={candidate}
        onChange={(e) => setCandidate(e.target.value)}
        error={errors.fields.candidate}
        hint={kind === ExperimentKind.RISK_MODEL ? "A risk model version, e.g. bucket-prior-v1 (live: recency-v1)." : "A strategy, e.g. cost-aware-ffd or cheapest-per-pod (live: lp-guided-ffd)."}
      />
      <TextField {...INPUTS.duration_hours} type="number" min={1} value={hours} onChange={(e) => setHours(e.target.value)} error={errors.fields.duration_hours} />
      <fieldset id={INPUTS.cluster_ids.id} tabIndex={-1} aria-describedby={errors.fields.cluster_ids ? clustersErrorId : undefined}>
        <legend className="text-sm font-medium text-slate-700">{INPUTS.cluster_ids.label}</legend>
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
        {errors.fields.cluster_ids && (
          <p id={clustersErrorId} className="mt-1 text-xs font-medium text-red-700">
            {errors.fields.cluster_ids}
          </p>
        )}
      </fieldset>
      <Button type="submit" disabled={start.isPending}>
        Start experiment
      </Button>
    </form>
  );
}
