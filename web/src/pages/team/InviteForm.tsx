import { Role } from "@spot-optimizer/sdk/gen/spot/auth/v1/auth_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { CopyBlock } from "../../components/CopyButton";
import { SelectField, TextField } from "../../components/fields";
import { Button } from "../../components/ui";
import { ROLES } from "./roles";

/** Invites a user; the invite link is shown once, to pass on. */
export function InviteForm() {
  const queryClient = useQueryClient();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState(Role.MEMBER);
  const invite = useMutation({
    mutationFn: () => api.users().inviteUser({ email, role }),
    onSuccess: () => {
      setEmail("");
      void queryClient.invalidateQueries({ queryKey: ["users"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    invite.mutate();
  };
  return (
    <form onSubmit={submit} className="space-y-2" aria-label="Invite a user">
      <TextField label="Email to invite" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
      <SelectField label="Role" value={role} onChange={(e) => setRole(Number(e.target.value) as Role)}>
        {ROLES.map((r) => (
          <option key={r.value} value={r.value}>
            {r.label}
          </option>
        ))}
      </SelectField>
      {invite.isError && (
        <p role="alert" className="text-sm text-red-700">
          {errorMessage(invite.error)}
        </p>
      )}
      <Button type="submit" disabled={invite.isPending}>
        Invite
      </Button>
      {invite.data && <CopyBlock label="Invite link (shown once)" text={`${window.location.origin}/invite?token=${encodeURIComponent(invite.data.inviteToken)}`} />}
    </form>
  );
}
