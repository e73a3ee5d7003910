import { Code, ConnectError } from "@connectrpc/connect";
import type { NodeClass, ResolvedNodeClass } from "@spot-optimizer/sdk/gen/spot/cluster/v1/cluster_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { errorMessage, parseFieldErrors } from "../../api/errors";
import { FieldErrorSummary, type SummaryItem } from "../../components/FieldErrorSummary";
import { SelectField, TextAreaField, TextField } from "../../components/fields";
import { Button } from "../../components/ui";
import { NodeClassResolved } from "./NodeClassResolved";
import {
  AMI_FAMILIES,
  fromNodeClassDraft,
  NODE_CLASS_LABELS,
  ROOT_VOLUME_TYPES,
  sortNodeClassErrors,
  toNodeClassDraft,
  type NodeClassDraft,
  type NodeClassDraftErrors,
  type SelectorMode,
} from "./nodeClassDraft";

const fieldId = (key: string) => `node-class-${key.replace(/[._]/g, "-")}`;

interface NodeClassFormProps {
  clusterId: string;
  clusterName: string;
  /** The class in force; absent when there is none. */
  current: NodeClass | undefined;
  /** `current` is the tenant's default: saving gives the cluster its own class. */
  inherited: boolean;
  onSaved?: () => void;
}

type Action = "check" | "save";
type Outcome = { action: Action; resolved?: ResolvedNodeClass } | null;

export function NodeClassForm({ clusterId, clusterName, current, inherited, onSaved }: NodeClassFormProps) {
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<NodeClassDraft>(() => toNodeClassDraft(current, clusterName));
  const [errors, setErrors] = useState<NodeClassDraftErrors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [refusedBy, setRefusedBy] = useState<Action>("save");
  const [outcome, setOutcome] = useState<Outcome>(null);
  // Someone else saved or removed the class meanwhile: offer to load what is there now.
  const [stale, setStale] = useState(false);
  // The text of the selector mode not shown, so switching back restores it.
  const [stash, setStash] = useState<Record<string, string>>({});
  // A new version (saved here or elsewhere) becomes the form's content.
  const version = current ? `${current.clusterId}/${current.version}` : "";
  const [shownVersion, setShownVersion] = useState(version);
  if (version !== shownVersion) {
    setShownVersion(version);
    setDraft(toNodeClassDraft(current, clusterName));
    setStale(false);
  }
  const set = <K extends keyof NodeClassDraft>(key: K, value: NodeClassDraft[K]) => {
    setDraft((d) => ({ ...d, [key]: value }));
    setOutcome(null);
    // The field's error was about what it held: once changed, it is for the next check to say.
    setErrors((e) => {
      if (!(key in e)) return e;
      const rest = { ...e };
      delete rest[key as keyof NodeClassDraftErrors];
      return rest;
    });
  };
  const switchMode = (key: "subnets" | "security_groups", by: SelectorMode) => {
    const byKey = `${key}_by` as const;
    setStash((s) => ({ ...s, [`${key}:${draft[byKey]}`]: draft[key] }));
    setDraft((d) => ({ ...d, [byKey]: by, [key]: stash[`${key}:${by}`] ?? "" }));
    setOutcome(null);
  };
  const refuse = (action: Action, reasons: { field: string; reason: string }[]) => {
    const sorted = sortNodeClassErrors(reasons);
    setRefusedBy(action);
    setErrors(sorted.fields);
    setGeneral(sorted.general);
  };
  const fail = (action: Action, error: unknown) => {
    const err = ConnectError.from(error);
    setOutcome(null);
    if (action === "save" && [Code.Aborted, Code.AlreadyExists, Code.NotFound].includes(err.code)) setStale(true);
    if (err.code === Code.InvalidArgument) refuse(action, parseFieldErrors(err.rawMessage, "node_class"));
    else refuse(action, [{ field: "", reason: errorMessage(err) }]);
  };

  const check = useMutation({
    mutationFn: (nodeClass: NodeClass) => api.nodeClasses().validateNodeClass({ nodeClass }),
    onSuccess: (response) => {
      refuse("check", response.violations.map((v) => ({ field: v.field, reason: v.description })));
      setOutcome(response.violations.length ? null : { action: "check", resolved: response.resolved });
    },
    onError: (error) => fail("check", error),
  });
  const save = useMutation({
    mutationFn: async (nodeClass: NodeClass) =>
      !current || inherited
        ? api.nodeClasses().createNodeClass({ nodeClass })
        : api.nodeClasses().updateNodeClass({ nodeClass, expectedVersion: current.version }),
    onSuccess: (response) => {
      refuse("save", []);
      onSaved?.();
      setOutcome({ action: "save", resolved: response.resolved });
      void queryClient.invalidateQueries({ queryKey: ["node-class", clusterId] });
    },
    onError: (error) => fail("save", error),
  });

  const run = (action: Action) => {
    setOutcome(null);
    const { nodeClass, errors: local } = fromNodeClassDraft(draft, clusterId);
    if (!nodeClass) {
      setRefusedBy(action);
      setErrors(local);
      setGeneral([]);
      return;
    }
    (action === "check" ? check : save).mutate(nodeClass);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    run("save");
  };
  const reset = () => {
    setDraft(toNodeClassDraft(current, clusterName));
    setErrors({});
    setGeneral([]);
    setOutcome(null);
  };
  const reload = () => {
    setStale(false);
    void queryClient.invalidateQueries({ queryKey: ["node-class", clusterId] });
  };

  const summary: SummaryItem[] = [
    ...Object.entries(errors).map(([key, reason]) => ({
      id: fieldId(key),
      label: NODE_CLASS_LABELS[key as keyof NodeClassDraft],
      reason: reason ?? "",
    })),
    ...general.map((reason) => ({ reason })),
  ];
  const text = (key: keyof NodeClassDraft, hint?: string, extra: { inputMode?: "numeric"; placeholder?: string } = {}) => (
    <TextField
      id={fieldId(key)}
      label={NODE_CLASS_LABELS[key]}
      value={draft[key]}
      onChange={(e) => set(key, e.target.value)}
      error={errors[key]}
      hint={hint}
      {...extra}
    />
  );
  const selector = (key: "subnets" | "security_groups", noun: string, idPrefix: string) => {
    const byKey = `${key}_by` as const;
    return (
      <div className="space-y-2">
        <SelectField id={fieldId(byKey)} label={NODE_CLASS_LABELS[byKey]} value={draft[byKey]} onChange={(e) => switchMode(key, e.target.value as SelectorMode)}>
          <option value="tags">Tags</option>
          <option value="ids">IDs</option>
        </SelectField>
        <TextAreaField
          id={fieldId(key)}
          label={NODE_CLASS_LABELS[key]}
          rows={3}
          value={draft[key]}
          onChange={(e) => set(key, e.target.value)}
          error={errors[key]}
          hint={
            draft[byKey] === "ids"
              ? `Comma or space separated, e.g. ${idPrefix}0a1b2c3d.`
              : `One key=value a line: every ${noun} carrying all of these tags.`
          }
        />
      </div>
    );
  };
  const legend = "mb-2 text-xs font-semibold uppercase tracking-wide text-slate-500";
  const busy = check.isPending || save.isPending;

  return (
    <form id="node-class-editor" onSubmit={submit} noValidate aria-label="Node class editor" className="mt-4">
      <FieldErrorSummary title={refusedBy === "check" ? "The node class does not check out" : "The node class was not saved"} items={summary} />
      {stale && (
        <p className="mb-3 text-sm">
          <Button variant="secondary" onClick={reload}>
            Load the latest node class
          </Button>
        </p>
      )}
      <fieldset className="grid gap-3 md:grid-cols-3">
        <legend className={legend}>Network and access</legend>
        {selector("subnets", "subnet of the cluster's VPC", "subnet-")}
        {selector("security_groups", "security group", "sg-")}
        {text("instance_profile", "The node role's instance profile: its name or ARN.", { placeholder: "e.g. KarpenterNodeInstanceProfile" })}
      </fieldset>
      <fieldset className="mt-4 grid gap-3 md:grid-cols-3">
        <legend className={legend}>Image and boot</legend>
        <SelectField id={fieldId("ami_family")} label={NODE_CLASS_LABELS.ami_family} value={draft.ami_family} onChange={(e) => set("ami_family", e.target.value)} error={errors.ami_family}>
          {AMI_FAMILIES.map((f) => (
            <option key={f.value} value={f.value}>
              {f.label}
            </option>
          ))}
        </SelectField>
        {text("ami_ids.amd64", "Optional (ami-…). Empty: the family's recommended image for the cluster's Kubernetes version.")}
        {text("ami_ids.arm64", "Optional (ami-…). Empty: the family's recommended image.")}
        <div className="md:col-span-3">
          <TextAreaField
            id={fieldId("user_data")}
            label={NODE_CLASS_LABELS.user_data}
            rows={5}
            value={draft.user_data}
            onChange={(e) => set("user_data", e.target.value)}
            error={errors.user_data}
            hint={
              draft.ami_family === "bottlerocket"
                ? "Optional TOML settings, merged after the platform's own (which join the node to the cluster)."
                : "Optional, runs after the platform's own bootstrap: a shell script (#!/bin/bash…), #cloud-config, or a NodeConfig."
            }
          />
        </div>
      </fieldset>
      <fieldset className="mt-4 grid gap-3 md:grid-cols-3">
        <legend className={legend}>Root volume and metadata</legend>
        {text("root_volume_gib", "20 to 16384 GiB (the EKS images need 20).", { inputMode: "numeric" })}
        <SelectField
          id={fieldId("root_volume_type")}
          label={NODE_CLASS_LABELS.root_volume_type}
          value={draft.root_volume_type}
          onChange={(e) => set("root_volume_type", e.target.value)}
          error={errors.root_volume_type}
        >
          {ROOT_VOLUME_TYPES.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </SelectField>
        {text("metadata_hop_limit", "1 keeps pods away from the node's credentials; 2 lets pods reach the instance metadata.", { inputMode: "numeric" })}
      </fieldset>
      <fieldset className="mt-4">
        <legend className={legend}>Instance tags</legend>
        <TextAreaField
          id={fieldId("tags")}
          label={NODE_CLASS_LABELS.tags}
          rows={3}
          value={draft.tags}
          onChange={(e) => set("tags", e.target.value)}
          error={errors.tags}
          hint="One key=value a line, put on every instance launched with this class. Keys starting with kubernetes.io/cluster/, spot-optimizer/, eks: or aws: are set by the platform or AWS."
        />
      </fieldset>
      <div className="mt-4 flex flex-wrap gap-2">
        <Button type="submit" disabled={busy}>
          {save.isPending ? "Saving…" : "Save node class"}
        </Button>
        <Button variant="secondary" onClick={() => run("check")} disabled={busy}>
          {check.isPending ? "Checking…" : "Check"}
        </Button>
        <Button variant="secondary" onClick={reset} disabled={busy}>
          Reset
        </Button>
      </div>
      {outcome && (
        <div role="status" className="mt-3 rounded-md bg-emerald-50 p-2 text-sm text-emerald-800">
          <p>
            {outcome.action === "save" ? "Node class saved: the cluster's new nodes boot with it." : "The node class checks out."}
            {outcome.resolved ? " In the linked AWS account it resolves to:" : ""}
          </p>
        </div>
      )}
      {outcome?.resolved && <NodeClassResolved resolved={outcome.resolved} />}
    </form>
  );
}
