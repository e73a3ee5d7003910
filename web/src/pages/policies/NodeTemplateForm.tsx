import { create } from "@bufbuild/protobuf";
import { NodeSelectorRequirementSchema, TaintEffect, TaintSchema } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import { NodeTemplateSchema } from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { TextField } from "../../components/fields";
import { Button } from "../../components/ui";

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

/** Creates a template from short text forms: "key In a|b", "key=value", "key=value:NoSchedule". */
export function NodeTemplateForm() {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [requirements, setRequirements] = useState("");
  const [labels, setLabels] = useState("");
  const [taints, setTaints] = useState("");
  const createTemplate = useMutation({
    mutationFn: () =>
      api.templates().createNodeTemplate({
        template: create(NodeTemplateSchema, {
          name,
          requirements: lines(requirements).map((line) => {
            const [key = "", operator = "In", values = ""] = line.split(/\s+/);
            return create(NodeSelectorRequirementSchema, { key, operator, values: values ? values.split("|") : [] });
          }),
          labels: Object.fromEntries(lines(labels).map((l) => l.split("=", 2) as [string, string])),
          taints: lines(taints).map((t) => {
            const [kv, effect = "NoSchedule"] = t.split(":");
            const [key = "", value = ""] = kv.split("=");
            return create(TaintSchema, { key, value, effect: EFFECTS[effect] ?? TaintEffect.NO_SCHEDULE });
          }),
        }),
      }),
    onSuccess: () => {
      setName("");
      setRequirements("");
      setLabels("");
      setTaints("");
      void queryClient.invalidateQueries({ queryKey: ["node-templates"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    createTemplate.mutate();
  };
  return (
    <form onSubmit={submit} className="space-y-2" aria-label="New node template">
      <TextField label="Template name" required value={name} onChange={(e) => setName(e.target.value)} />
      <TextField label="Requirements" value={requirements} onChange={(e) => setRequirements(e.target.value)} hint="Comma-separated: key Operator v1|v2, e.g. karpenter.k8s.aws/instance-family In m5|c5" />
      <TextField label="Labels" value={labels} onChange={(e) => setLabels(e.target.value)} hint="Comma-separated key=value." />
      <TextField label="Taints" value={taints} onChange={(e) => setTaints(e.target.value)} hint="Comma-separated key=value:NoSchedule." />
      {createTemplate.isError && (
        <p role="alert" className="text-sm text-red-700">
          {errorMessage(createTemplate.error)}
        </p>
      )}
      <Button type="submit" disabled={createTemplate.isPending}>
        Create template
      </Button>
    </form>
  );
}
