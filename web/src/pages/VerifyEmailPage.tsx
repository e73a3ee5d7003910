import { useEffect, useRef, useState } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { errorMessage } from "../api/errors";
import { useAuth } from "../auth/AuthProvider";
import { Loading } from "../components/states";
import { AuthFrame } from "./AuthFrame";

/** The link in the verification email: verifies the address with its token and signs in. */
export function VerifyEmailPage() {
  const { user, verifyEmail } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [error, setError] = useState<string | null>(null);
  // A token is used once: StrictMode's second effect run must not spend it again.
  const started = useRef(false);

  useEffect(() => {
    if (!token || started.current) return;
    started.current = true;
    verifyEmail(token)
      .then(() => navigate("/", { replace: true }))
      .catch((err) => setError(errorMessage(err)));
  }, [token, verifyEmail, navigate]);

  if (user && !started.current) return <Navigate to="/" replace />;
  return (
    <AuthFrame title="Verify your email">
      {!token ? (
        <p role="alert" className="text-sm text-red-700">
          This link has no verification token. Open the link from the email again.
        </p>
      ) : error ? (
        <div className="space-y-3 text-sm">
          <p role="alert" className="text-red-700">
            {error}
          </p>
          <p className="text-slate-500">
            <Link to="/login" className="font-medium text-indigo-700 underline">
              Log in
            </Link>{" "}
            if you verified already, or{" "}
            <Link to="/signup" className="font-medium text-indigo-700 underline">
              sign up again
            </Link>{" "}
            to get a new link.
          </p>
        </div>
      ) : (
        <Loading label="Verifying your email…" />
      )}
    </AuthFrame>
  );
}
