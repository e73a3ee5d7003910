import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { isUnimplemented } from "../../api/errors";
import { CheckboxField } from "../../components/fields";

/** Node templates the policy uses; hidden while node templates are not on the server. */
export function TemplatePicker({ value, onChange, error, id }: { value: string[]; onChange(ids: string[]): void; error?: string; id: string }) {
  const templates = useQuery({
    queryKey: ["node-templates"],
    queryFn: async () => (await api.templates().listNodeTemplates({ page: { pageSize: 200 } })).templates,
  });
  if (templates.isError && isUnimplemented(templates.error)) return null;
  return (
    <fieldset aria-describedby={error ? `${id}-error` : undefined}>
      <legend className="text-sm font-medium text-slate-700">Node templates</legend>
      {templates.isPending && <p className="text-xs text-slate-500">Loading templates…</p>}
      {templates.data?.length === 0 && <p className="text-xs text-slate-500">No node templates defined.</p>}
      <div className="mt-1 flex flex-wrap gap-3">
        {templates.data?.map((t) => (
          <CheckboxField
            key={t.id}
            id={`${id}-${t.id}`}
            label={t.name}
            checked={value.includes(t.id)}
            onChange={(e) => onChange(e.target.checked ? [...value, t.id] : value.filter((v) => v !== t.id))}
          />
        ))}
      </div>
      {error && (
        <p id={`${id}-error`} className="mt-1 text-xs font-medium text-red-700">
          {error}
        </p>
      )}
    </fieldset>
  );
}
