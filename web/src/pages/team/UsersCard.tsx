import type { Role } from "@spot-optimizer/sdk/gen/spot/auth/v1/auth_pb.js";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { formatTime } from "../../api/format";
import { useAuth } from "../../auth/AuthProvider";
import { SelectField } from "../../components/fields";
import { Empty, QueryView } from "../../components/states";
import { Button, Card, Table, Td } from "../../components/ui";
import { InviteForm } from "./InviteForm";
import { ROLES } from "./roles";

export function UsersCard() {
  const { user: me } = useAuth();
  const queryClient = useQueryClient();
  const users = useQuery({
    queryKey: ["users"],
    queryFn: async () => (await api.users().listUsers({ page: { pageSize: 200 } })).users,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["users"] });
  const changeRole = useMutation({ mutationFn: (v: { userId: string; role: Role }) => api.users().changeUserRole(v), onSettled: refresh });
  const remove = useMutation({ mutationFn: (userId: string) => api.users().removeUser({ userId }), onSettled: refresh });
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
                        <Button variant="ghost" onClick={() => remove.mutate(u.id)} aria-label={`Remove ${u.email}`}>
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
    </Card>
  );
}
