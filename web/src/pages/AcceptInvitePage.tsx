import { useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { errorMessage } from "../api/errors";
import { useAuth } from "../auth/AuthProvider";
import { TextField } from "../components/fields";
import { Button } from "../components/ui";
import { AuthFrame } from "./AuthFrame";

/**
 * The invitee joins with the link's token and is signed in to the tenant: a new address chooses a
 * password, an existing account gives its own (whoever is signed in on this browser).
 */
export function AcceptInvitePage() {
  const { acceptInvite } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await acceptInvite(token, password);
      navigate("/", { replace: true });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthFrame title="Accept your invitation">
      {!token ? (
        <p role="alert" className="text-sm text-red-700">
          This link has no invitation token. Ask for a new invitation.
        </p>
      ) : (
        <form onSubmit={submit} className="space-y-3">
          <TextField
            label="Password"
            type="password"
            autoComplete="current-password"
            required
            minLength={12}
            hint="Already have a Spot Optimizer account: its password. New here: choose one of at least 12 characters, mixing three of: lower case, upper case, digits, symbols."
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          {error && (
            <p role="alert" className="text-sm text-red-700">
              {error}
            </p>
          )}
          <Button type="submit" className="w-full" disabled={busy}>
            Join
          </Button>
        </form>
      )}
    </AuthFrame>
  );
}
