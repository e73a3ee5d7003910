import { create } from "@bufbuild/protobuf";
import { NodeSelectorRequirementSchema, TaintEffect, TaintSchema } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import { NodeTemplateSchema } from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { formErrors } from "../../api/errors";
import { FieldErrorSummary, summaryOf } from "../../components/FieldErrorSummary";
import { TextField } from "../../components/fields";
import { Button } from "../../components/ui";
import { serverChecksOnly, useCheckedForm } from "../../components/useCheckedForm";

const INPUTS = {
  name: { id: "template-name", label: "Template name" },
  requirements: { id: "template-requirements", label: "Requirements" },
  labels: { id: "template-labels", label: "Labels" },
  taints: { id: "template-taints", label: "Taints" },
};
const INPUT_KEYS = Object.keys(INPUTS) as (keyof typeof INPUTS)[];

// Any other effect, or none, goes as unspecified: the server refuses it, naming the taint.
const EFFECTS: Record<string, TaintEffect> = {
  NoSchedule: TaintEffect.NO_SCHEDULE,
  PreferNoSchedule: TaintEffect.PREFER_NO_SCHEDULE,
  NoExecute: TaintEffect.NO_EXECUTE,
};
const lines = (text: string) =>
  text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
/** "key=value" split at the first "=" (a missing value is empty). */
const keyValue = (text: string): [string, string] => {
  const at = text.indexOf("=");
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
};

/** Creates a template from short text forms: "key In a|b", "key=value", "key=value:NoSchedule". */
export function NodeTemplateForm() {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [requirements, setRequirements] = useState("");
  const [labels, setLabels] = useState("");
  const [taints, setTaints] = useState("");
  const form = useCheckedForm({ name, requirements, labels, taints }, serverChecksOnly);
  const createTemplate = useMutation({
    mutationFn: () =>
      api.templates().createNodeTemplate({
        template: create(NodeTemplateSchema, {
          name,
          requirements: lines(requirements).map((line) => {
            const [key = "", operator = "In", values = ""] = line.split(/\s+/);
            return create(NodeSelectorRequirementSchema, { key, operator, values: values ? values.split("|") : [] });
          }),
          labels: Object.fromEntries(lines(labels).map(keyValue)),
          taints: lines(taints).map((t) => {
            const [kv, effect = ""] = t.split(":");
            const [key, value] = keyValue(kv);
            return create(TaintSchema, { key, value, effect: EFFECTS[effect] ?? TaintEffect.UNSPECIFIED });
          }),
        }),
      }),
    onSuccess: () => {
      setName("");
      setRequirements("");
      setLabels("");
      setTaints("");
      form.reset();
      void queryClient.invalidateQueries({ queryKey: ["node-templates"] });
    },
  });
  const errors = form.errors(formErrors(createTemplate.error, "template", INPUT_KEYS));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (form.attempt()) createTemplate.mutate();
  };
  return (
    <form onSubmit={submit} noValidate className="space-y-2" aria-label="New node template">
      <FieldErrorSummary title="The template was not created" items={summaryOf(errors, INPUTS)} />
      <TextField {...INPUTS.name} required value={name} onChange={(e) => setName(e.target.value)} error={errors.fields.name} />
      <TextField
        {...INPUTS.requirements}
        value={requirements}
        onChange={(e) => setRequirements(e.target.value)}
        error={errors.fields.requirements}
        hint="Comma-separated: key Operator v1|v2, e.g. karpenter.k8s.aws/instance-family In m5|c5"
      />
      <TextField {...INPUTS.labels} value={labels} onChange={(e) => setLabels(e.target.value)} error={errors.fields.labels} hint="Comma-separated key=value." />
      <TextField
        {...INPUTS.taints}
        value={taints}
        onChange={(e) => setTaints(e.target.value)}
        error={errors.fields.taints}
        hint="Comma-separated key=value:Effect, the effect NoSchedule, PreferNoSchedule or NoExecute."
      />
      <Button type="submit" disabled={createTemplate.isPending}>
        Create template
      </Button>
    </form>
  );
}
