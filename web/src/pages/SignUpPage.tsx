import { useState, type FormEvent } from "react";
import { Link, Navigate } from "react-router";
import { errorMessage } from "../api/errors";
import { useAuth } from "../auth/AuthProvider";
import { TextField } from "../components/fields";
import { Button } from "../components/ui";
import { AuthFrame } from "./AuthFrame";

export function SignUpPage() {
  const { user, signUp, resendVerification } = useAuth();
  const [tenantName, setTenantName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [resent, setResent] = useState(false);

  if (user) return <Navigate to="/" replace />;

  const resend = async () => {
    if (!sentTo) return;
    setError(null);
    try {
      await resendVerification(sentTo);
      setResent(true);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  // The same page whether or not the address was registered: the email says which.
  if (sentTo) {
    return (
      <AuthFrame title="Check your email">
        <div className="space-y-3 text-sm text-slate-700">
          <p role="status">
            We sent a message to <strong>{sentTo}</strong>. Follow the link in it to verify your email and finish
            signing up; then you can log in.
          </p>
          <p className="text-slate-500">The link works for 48 hours.</p>
          {error && (
            <p role="alert" className="text-sm text-red-700">
              {error}
            </p>
          )}
          <Button type="button" variant="secondary" className="w-full" onClick={resend}>
            {resent ? "Sent again" : "Send the email again"}
          </Button>
        </div>
        <p className="mt-4 text-center text-sm text-slate-500">
          Verified already?{" "}
          <Link to="/login" className="font-medium text-indigo-700 underline">
            Log in
          </Link>
        </p>
      </AuthFrame>
    );
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signUp(tenantName, email, password);
      setSentTo(email);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthFrame title="Create your organization">
      <form onSubmit={submit} className="space-y-3">
        <TextField label="Organization name" required value={tenantName} onChange={(e) => setTenantName(e.target.value)} />
        <TextField label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <TextField
          label="Password"
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
          {busy ? "Creating…" : "Sign up"}
        </Button>
      </form>
      <p className="mt-4 text-center text-sm text-slate-500">
        Already have an account?{" "}
        <Link to="/login" className="font-medium text-indigo-700 underline">
          Log in
        </Link>
      </p>
    </AuthFrame>
  );
}
