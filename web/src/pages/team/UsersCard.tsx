import type { Role } from "@spot-optimizer/sdk/gen/spot/auth/v1/auth_pb.js";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { formatTime } from "../../api/format";
import { useAuth } from "../../auth/AuthProvider";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { SelectField } from "../../components/fields";
import { Empty, QueryView } from "../../components/states";
import { Button, Card, Table, Td } from "../../components/ui";
import { useMe } from "../../components/useMe";
import { InviteForm } from "./InviteForm";
import { ROLES } from "./roles";

export function UsersCard() {
  const { user: me } = useAuth();
  const queryClient = useQueryClient();
  const meQuery = useMe();
  const tenantName = meQuery.data?.memberships.find((m) => m.tenantId === me?.tenantId)?.tenantName ?? "this organization";
  const [removing, setRemoving] = useState<{ id: string; email: string } | null>(null);
  const users = useQuery({
    queryKey: ["users"],
    queryFn: async () => (await api.users().listUsers({ page: { pageSize: 200 } })).users,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["users"] });
  const changeRole = useMutation({ mutationFn: (v: { userId: string; role: Role }) => api.users().changeUserRole(v), onSettled: refresh });
  const remove = useMutation({
    mutationFn: (userId: string) => api.users().removeUser({ userId }),
    onSettled: () => {
      setRemoving(null);
      void refresh();
    },
  });
  const failure = changeRole.error ?? remove.error;
  return (
    <Card title="Users">
      <div className="grid gap-4 lg:grid-cols-3">
        <div className="lg:col-span-2">
          {failure && (
            <p role="alert" className="mb-2 text-sm text-red-700">
              {errorMessage(failure)}
            </p>
          )}
          <QueryView query={users} feature="Users" isEmpty={(l) => l.length === 0} empty={<Empty title="No users" />}>
            {(list) => (
              <Table caption="Users" head={["Email", "Role", "Joined", ""]}>
                {list.map((u) => (
                  <tr key={u.id}>
                    <Td>
                      {u.email} {u.id === me?.id && <span className="text-xs text-slate-500">(you)</span>}
                    </Td>
                    <Td>
                      <div className="w-32">
                        <SelectField
                          label={`Role of ${u.email}`}
                          hideLabel
                          value={u.role}
                          disabled={u.id === me?.id}
                          onChange={(e) => changeRole.mutate({ userId: u.id, role: Number(e.target.value) as Role })}
                        >
                          {ROLES.map((r) => (
                            <option key={r.value} value={r.value}>
                              {r.label}
                            </option>
                          ))}
                        </SelectField>
                      </div>
                    </Td>
                    <Td>{formatTime(u.createdAt)}</Td>
                    <Td>
                      {u.id !== me?.id && (
                        <Button variant="ghost" onClick={() => setRemoving({ id: u.id, email: u.email })} aria-label={`Remove ${u.email}`}>
                          Remove
                        </Button>
                      )}
                    </Td>
                  </tr>
                ))}
              </Table>
            )}
          </QueryView>
        </div>
        <InviteForm />
      </div>
      <ConfirmDialog
        open={!!removing}
        title={`Remove ${removing?.email} from ${tenantName}?`}
        confirmLabel="Remove user"
        danger
        busy={remove.isPending}
        onConfirm={() => removing && remove.mutate(removing.id)}
        onCancel={() => setRemoving(null)}
      >
        They lose access to {tenantName} at once: their sessions here end. Their other organizations are not affected. To let them back in, invite them again.
      </ConfirmDialog>
    </Card>
  );
}
