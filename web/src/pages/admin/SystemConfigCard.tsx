import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { TextField } from "../../components/fields";
import { QueryView } from "../../components/states";
import { Button, Card } from "../../components/ui";
import { useSystemConfig, useUpdateSystemConfig } from "./useSystemConfig";

function RiskTtlForm({ ttl, onSave, pending }: { ttl: number; onSave(seconds: number): void; pending: boolean }) {
  const [value, setValue] = useState(String(ttl));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSave(Math.max(0, Math.round(Number(value) || 0)));
  };
  return (
    <form onSubmit={submit} className="flex items-end gap-2">
      <div className="flex-1">
        <TextField label="Global risk TTL (seconds)" type="number" min={0} value={value} onChange={(e) => setValue(e.target.value)} hint="How long an interruption flags its pool for every tenant." />
      </div>
      <Button type="submit" disabled={pending}>
        Save
      </Button>
    </form>
  );
}

export function SystemConfigCard() {
  const config = useSystemConfig();
  const update = useUpdateSystemConfig();
  const [confirmingRotate, setConfirmingRotate] = useState(false);
  const rotate = useMutation({ mutationFn: () => api.admin().rotateSigningKey({}), onSettled: () => setConfirmingRotate(false) });
  return (
    <Card title="System config">
      <QueryView query={config} feature="System config">
        {(current) => (
          <div className="space-y-4">
            <RiskTtlForm
              key={current?.globalRiskTtlSeconds}
              ttl={current?.globalRiskTtlSeconds ?? 1800}
              pending={update.isPending}
              onSave={(seconds) => update.mutate({ globalRiskTtlSeconds: seconds })}
            />
            {update.isError && (
              <p role="alert" className="text-sm text-red-700">
                {errorMessage(update.error)}
              </p>
            )}
            <div className="border-t border-slate-100 pt-3">
              <p className="mb-2 text-sm text-slate-600">A new signing key signs access tokens from now on; tokens signed by the old one stay valid until they expire.</p>
              <Button variant="secondary" onClick={() => setConfirmingRotate(true)} disabled={rotate.isPending}>
                Rotate signing key
              </Button>
              {rotate.data && (
                <p role="status" className="mt-2 text-sm text-emerald-700">
                  New key {rotate.data.keyId}.
                </p>
              )}
              {rotate.isError && (
                <p role="alert" className="mt-2 text-sm text-red-700">
                  {errorMessage(rotate.error)}
                </p>
              )}
            </div>
          </div>
        )}
      </QueryView>
      <ConfirmDialog
        open={confirmingRotate}
        title="Rotate the platform's signing key?"
        confirmLabel="Rotate key"
        danger
        busy={rotate.isPending}
        onConfirm={() => rotate.mutate()}
        onCancel={() => setConfirmingRotate(false)}
      >
        A new key signs every access token, for every tenant, from now on. Tokens signed by the current key stay valid until they expire; nobody is logged out.
      </ConfirmDialog>
    </Card>
  );
}
