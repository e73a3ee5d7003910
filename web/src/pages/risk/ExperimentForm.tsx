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
import { useCheckedForm, type FormCheck } from "../../components/useCheckedForm";

const INPUTS = {
  name: { id: "experiment-name", label: "Experiment name" },
  kind: { id: "experiment-kind", label: "Kind" },
  candidate: { id: "experiment-candidate", label: "Candidate" },
  duration_hours: { id: "experiment-duration", label: "Duration (hours)" },
  cluster_ids: { id: "experiment-clusters", label: "Clusters" },
};
const INPUT_KEYS = Object.keys(INPUTS) as (keyof typeof INPUTS)[];

type ExperimentKey = keyof typeof INPUTS;

/** What the form can tell before sending: required fields, and a duration that is a whole number of hours. */
const checkExperiment: FormCheck<ExperimentKey> = (values) => {
  const errors: Partial<Record<ExperimentKey, string>> = {};
  if (!String(values.name).trim()) errors.name = "Enter a name for the experiment.";
  if (!String(values.candidate).trim()) errors.candidate = "Enter the candidate to try against the live one.";
  const hours = String(values.duration_hours).trim();
  // The lab's limits (services/risk/src/lab/validate.rs): a week at most, 20 clusters at most.
  if (!/^\d+$/.test(hours) || Number(hours) < 1 || Number(hours) > 168) errors.duration_hours = "The duration is a whole number of hours from 1 to 168 (a week).";
  const clusters = (values.cluster_ids as string[]).length;
  if (clusters === 0 || clusters > 20) errors.cluster_ids = "Choose from 1 to 20 clusters to run the experiment on.";
  return errors;
};

export function ExperimentForm() {
  const queryClient = useQueryClient();
  const clusters = useClusters();
  const [name, setName] = useState("");
  const [kind, setKind] = useState(ExperimentKind.RISK_MODEL);
  const [candidate, setCandidate] = useState("");
  const [hours, setHours] = useState("24");
  const [clusterIds, setClusterIds] = useState<string[]>([]);
  const form = useCheckedForm({ name, kind, candidate, duration_hours: hours, cluster_ids: clusterIds }, checkExperiment);
  const start = useMutation({
    mutationFn: () =>
      api.experiments().createExperiment({
        experiment: create(ExperimentSchema, { name, kind, candidate, clusterIds, durationHours: Number(hours) }),
      }),
    onSuccess: () => {
      setName("");
      form.reset();
      void queryClient.invalidateQueries({ queryKey: ["experiments"] });
    },
  });
  const errors = form.errors(formErrors(start.error, "experiment", INPUT_KEYS));
  const clustersErrorId = `${INPUTS.cluster_ids.id}-error`;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (form.attempt()) start.mutate();
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
