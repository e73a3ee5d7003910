import { Code, ConnectError } from "@connectrpc/connect";
import { Architecture } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import { ConsolidationMode, type Policy } from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { errorMessage, parseFieldErrors } from "../../api/errors";
import { formatTime } from "../../api/format";
import { FieldErrorSummary, type SummaryItem } from "../../components/FieldErrorSummary";
import { CheckboxField, SelectField, TextField } from "../../components/fields";
import { Button, Card } from "../../components/ui";
import { FIELD_LABELS } from "./fieldLabels";
import { PolicyPreview } from "./PolicyPreview";
import { draftKeyFor, fromDraft, toDraft, type DraftErrors, type PolicyDraft } from "./policyDraft";
import { PolicySource } from "./PolicySource";
import { TemplatePicker } from "./TemplatePicker";

const withoutKey = <T extends object>(errors: T, key: keyof T): T => {
  if (!(key in errors)) return errors;
  const rest = { ...errors };
  delete rest[key];
  return rest;
};

const fieldId = (key: string) => `policy-${key.replace(/\./g, "-")}`;

interface PolicyEditorProps {
  clusterId: string;
  region: string;
  current: Policy | undefined;
}

export function PolicyEditor({ clusterId, region, current }: PolicyEditorProps) {
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<PolicyDraft>(() => toDraft(current));
  const [errors, setErrors] = useState<DraftErrors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [saved, setSaved] = useState(false);
  // A new version (saved here, rolled back, or changed elsewhere) becomes the form's content.
  const [shownVersion, setShownVersion] = useState(current?.version);
  if (current?.version !== shownVersion) {
    setShownVersion(current?.version);
    setDraft(toDraft(current));
  }

  const set = <K extends keyof PolicyDraft>(key: K, value: PolicyDraft[K]) => {
    setDraft((d) => ({ ...d, [key]: value }));
    setSaved(false);
    // The field's error was about what it held: once changed, it is for the next save to say.
    setErrors((e) => withoutKey(e, key));
  };

  const save = useMutation({
    mutationFn: (policy: Policy) => api.policy().updatePolicy({ policy }),
    onSuccess: () => {
      setErrors({});
      setGeneral([]);
      setSaved(true);
      void queryClient.invalidateQueries({ queryKey: ["policy", clusterId] });
      void queryClient.invalidateQueries({ queryKey: ["policy-versions", clusterId] });
    },
    onError: (error) => {
      const err = ConnectError.from(error);
      if (err.code !== Code.InvalidArgument) {
        setErrors({});
        setGeneral([errorMessage(err)]);
        return;
      }
      const fieldErrors: DraftErrors = {};
      const rest: string[] = [];
      for (const { field, reason } of parseFieldErrors(err.rawMessage, "policy")) {
        const key = field ? draftKeyFor(field, draft) : null;
        if (key) fieldErrors[key] = fieldErrors[key] ? `${fieldErrors[key]}; ${reason}` : reason;
        else rest.push(field ? `${field}: ${reason}` : reason);
      }
      setErrors(fieldErrors);
      setGeneral(rest);
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    const { policy, errors: local } = fromDraft(draft, clusterId);
    if (!policy) {
      setErrors(local);
      setGeneral([]);
      return;
    }
    save.mutate(policy);
  };

  const summary: SummaryItem[] = [
    ...Object.entries(errors).map(([key, reason]) => ({ id: fieldId(key), label: FIELD_LABELS[key as keyof PolicyDraft], reason: reason ?? "" })),
    ...general.map((reason) => ({ reason })),
  ];
  const field = (key: keyof PolicyDraft, extra: { hint?: string; type?: string; step?: string } = {}) => (
    <TextField
      id={fieldId(key)}
      label={FIELD_LABELS[key]}
      value={String(draft[key])}
      onChange={(e) => set(key, e.target.value as never)}
      error={errors[key]}
      inputMode={extra.type === "number" ? "decimal" : undefined}
      hint={extra.hint}
    />
  );
  const toggleArch = (arch: Architecture, on: boolean) =>
    set("architectures", on ? [...draft.architectures, arch] : draft.architectures.filter((a) => a !== arch));

  return (
    <div className="grid gap-4 xl:grid-cols-3">
      <Card
        title={clusterId ? "Cluster policy" : "Tenant default policy"}
        className="xl:col-span-2"
        actions={
          current && (
            <span className="text-xs text-slate-500">
              Version {current.version}
              {current.changedAt && ` · changed ${formatTime(current.changedAt)}`}
            </span>
          )
        }
      >
        <form onSubmit={submit} noValidate aria-label="Policy editor">
          <PolicySource clusterId={clusterId} current={current} />
          <FieldErrorSummary title="The policy was not saved" items={summary} />
          {saved && (
            <p role="status" className="mb-3 rounded-md bg-emerald-50 p-2 text-sm text-emerald-800">
              Policy saved.
            </p>
          )}
          <fieldset className="grid gap-3 md:grid-cols-3">
            <legend className="mb-2 text-xs font-semibold uppercase tracking-wide text-slate-500">Capacity</legend>
            {field("spot_percent", { type: "number", hint: "Share of capacity on spot, 0–100." })}
            {field("on_demand_base", { type: "number", hint: "Nodes always kept on-demand." })}
            {field("min_pools", { type: "number", hint: "Spread spot over at least this many pools." })}
            {field("max_interruption_bucket", { type: "number", hint: "Spot advisor bucket, 0 (<5 % a month, strictest) to 4 (>20 %, admits all)." })}
            {field("max_usd_per_vcpu_hour", { type: "number", hint: "0 means no cap." })}
            <CheckboxField id={fieldId("dry_run")} label="Dry run (recommend only)" checked={draft.dry_run} onChange={(e) => set("dry_run", e.target.checked)} error={errors.dry_run} />
          </fieldset>
          <fieldset className="mt-4 grid gap-3 md:grid-cols-2">
            <legend className="mb-2 text-xs font-semibold uppercase tracking-wide text-slate-500">Instance types</legend>
            {field("allowed_families", { hint: "Comma-separated, e.g. m5, c6i. Empty allows all." })}
            {field("denied_families", { hint: "Comma-separated." })}
            {field("allowed_categories", { hint: "e.g. general_purpose, compute_optimized." })}
            {field("allowed_generations", { hint: "e.g. 5, 6, 7." })}
            <fieldset aria-describedby={errors.architectures ? `${fieldId("architectures")}-error` : undefined}>
              <legend className="text-sm font-medium text-slate-700">{FIELD_LABELS.architectures}</legend>
              <div className="mt-1 flex gap-4">
                <CheckboxField id={fieldId("architectures-amd64")} label="amd64" checked={draft.architectures.includes(Architecture.AMD64)} onChange={(e) => toggleArch(Architecture.AMD64, e.target.checked)} />
                <CheckboxField id={fieldId("architectures-arm64")} label="arm64" checked={draft.architectures.includes(Architecture.ARM64)} onChange={(e) => toggleArch(Architecture.ARM64, e.target.checked)} />
              </div>
              {errors.architectures && (
                <p id={`${fieldId("architectures")}-error`} className="mt-1 text-xs font-medium text-red-700">
                  {errors.architectures}
                </p>
              )}
            </fieldset>
            <TemplatePicker value={draft.node_template_ids} onChange={(ids) => set("node_template_ids", ids)} error={errors.node_template_ids} id={fieldId("node_template_ids")} />
          </fieldset>
          <fieldset className="mt-4 grid gap-3 md:grid-cols-3">
            <legend className="mb-2 text-xs font-semibold uppercase tracking-wide text-slate-500">Consolidation and disruption</legend>
            <SelectField
              id={fieldId("consolidation")}
              label={FIELD_LABELS.consolidation}
              value={draft.consolidation}
              onChange={(e) => set("consolidation", Number(e.target.value) as ConsolidationMode)}
              error={errors.consolidation}
            >
              <option value={ConsolidationMode.UNSPECIFIED}>Server default</option>
              <option value={ConsolidationMode.OFF}>Off</option>
              <option value={ConsolidationMode.WHEN_EMPTY}>When empty</option>
              <option value={ConsolidationMode.WHEN_UNDERUTILIZED}>When underutilized</option>
            </SelectField>
            {field("consolidation_min_savings_percent", { type: "number" })}
            {field("disruption_budget.max_nodes", { type: "number", hint: "Empty: the built-in budget (20 % of nodes)." })}
            {field("disruption_budget.max_percent", { type: "number", hint: "0 beside a node limit: no limit by percent." })}
            {field("disruption_budget.time_zone", { hint: "IANA name, e.g. Europe/Berlin; empty is UTC." })}
            {field("bare_pods_evictable_in", { hint: "Namespaces (or *) where consolidation may evict pods without a controller; elsewhere their node stays." })}
            {field("local_data_evictable_in", { hint: "Namespaces (or *) where consolidation may lose emptyDir and hostPath data." })}
            <div>
              <label htmlFor={fieldId("disruption_budget.windows")} className="block text-sm font-medium text-slate-700">
                {FIELD_LABELS["disruption_budget.windows"]}
              </label>
              <textarea
                id={fieldId("disruption_budget.windows")}
                rows={2}
                value={draft["disruption_budget.windows"]}
                onChange={(e) => set("disruption_budget.windows", e.target.value)}
                aria-invalid={errors["disruption_budget.windows"] ? true : undefined}
                aria-describedby={errors["disruption_budget.windows"] ? `${fieldId("disruption_budget.windows")}-error` : undefined}
                className="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5 font-mono text-xs"
                placeholder="One cron expression per line"
              />
              {errors["disruption_budget.windows"] && (
                <p id={`${fieldId("disruption_budget.windows")}-error`} className="mt-1 text-xs font-medium text-red-700">
                  {errors["disruption_budget.windows"]}
                </p>
              )}
            </div>
          </fieldset>
          <div className="mt-4 flex gap-2">
            <Button type="submit" disabled={save.isPending}>
              {save.isPending ? "Saving…" : "Save policy"}
            </Button>
            <Button
              variant="secondary"
              onClick={() => {
                setDraft(toDraft(current));
                setErrors({});
                setGeneral([]);
              }}
            >
              Reset
            </Button>
          </div>
        </form>
      </Card>
      <PolicyPreview draft={draft} clusterId={clusterId} region={region} />
    </div>
  );
}
