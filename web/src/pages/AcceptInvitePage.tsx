import { useState, type FormEvent } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { errorMessage } from "../api/errors";
import { useAuth } from "../auth/AuthProvider";
import { TextField } from "../components/fields";
import { Button } from "../components/ui";
import { AuthFrame } from "./AuthFrame";

/** The invitee sets a password with the link's token and is signed in. */
export function AcceptInvitePage() {
  const { user, acceptInvite } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (user) return <Navigate to="/" replace />;
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
            label="Choose a password"
            type="password"
            autoComplete="new-password"
            required
            minLength={12}
            hint="At least 12 characters, mixing three of: lower case, upper case, digits, symbols."
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
