import { Role } from "@spot-optimizer/sdk/gen/spot/auth/v1/auth_pb.js";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { formatRelative, formatTime } from "../../api/format";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { CopyBlock } from "../../components/CopyButton";
import { SelectField, TextField } from "../../components/fields";
import { Empty, QueryView } from "../../components/states";
import { Badge, Button, Card, Table, Td } from "../../components/ui";
import { ROLES, roleLabel } from "./roles";

/** Agent keys (one cluster each) and automation keys (a role), with create and revoke. */
export function ApiKeysCard() {
  const queryClient = useQueryClient();
  const keys = useQuery({
    queryKey: ["api-keys"],
    queryFn: async () => (await api.apiKeys().listApiKeys({ page: { pageSize: 200 } })).apiKeys,
  });
  const [name, setName] = useState("");
  const [role, setRole] = useState(Role.VIEWER);
  const [revoking, setRevoking] = useState<{ id: string; name: string } | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["api-keys"] });
  const createKey = useMutation({
    mutationFn: () => api.apiKeys().createApiKey({ name, role }),
    onSuccess: () => {
      setName("");
      void refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (apiKeyId: string) => api.apiKeys().revokeApiKey({ apiKeyId }),
    onSettled: () => {
      setRevoking(null);
      void refresh();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    createKey.mutate();
  };
  return (
    <Card title="API keys">
      <div className="grid gap-4 lg:grid-cols-3">
        <div className="lg:col-span-2">
          {revoke.isError && (
            <p role="alert" className="mb-2 text-sm text-red-700">
              {errorMessage(revoke.error)}
            </p>
          )}
          <QueryView query={keys} feature="API keys" isEmpty={(l) => l.length === 0} empty={<Empty title="No API keys">Agent keys appear when you register a cluster.</Empty>}>
            {(list) => (
              <Table caption="API keys" head={["Name", "For", "Created", "Last used", ""]}>
                {list.map((k) => (
                  <tr key={k.id}>
                    <Td className="font-medium">{k.name}</Td>
                    <Td>{k.clusterId ? <Badge tone="indigo">Agent of a cluster</Badge> : <Badge>{roleLabel(k.role)}</Badge>}</Td>
                    <Td>{formatTime(k.createdAt)}</Td>
                    <Td>{formatRelative(k.lastUsedAt)}</Td>
                    <Td>
                      {k.revokedAt ? (
                        <Badge tone="red">Revoked</Badge>
                      ) : (
                        <Button variant="ghost" onClick={() => setRevoking({ id: k.id, name: k.name })} aria-label={`Revoke ${k.name}`}>
                          Revoke
                        </Button>
                      )}
                    </Td>
                  </tr>
                ))}
              </Table>
            )}
          </QueryView>
        </div>
        <form onSubmit={submit} className="space-y-2" aria-label="New automation key">
          <TextField label="Key name" required value={name} onChange={(e) => setName(e.target.value)} />
          <SelectField label="Key role" value={role} onChange={(e) => setRole(Number(e.target.value) as Role)}>
            {ROLES.filter((r) => r.value !== Role.OWNER).map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
          </SelectField>
          {createKey.isError && (
            <p role="alert" className="text-sm text-red-700">
              {errorMessage(createKey.error)}
            </p>
          )}
          <Button type="submit" disabled={createKey.isPending}>
            Create key
          </Button>
          {createKey.data && <CopyBlock label="New key secret (shown once)" text={createKey.data.secret} />}
        </form>
      </div>
      <ConfirmDialog
        open={!!revoking}
        title={`Revoke ${revoking?.name}?`}
        confirmLabel="Revoke"
        danger
        busy={revoke.isPending}
        onConfirm={() => revoking && revoke.mutate(revoking.id)}
        onCancel={() => setRevoking(null)}
      >
        Anything using this key is refused from now on. An agent using it disconnects and cannot come back until it gets a new key.
      </ConfirmDialog>
    </Card>
  );
}
