import { Navigate, Outlet, useLocation } from "react-router";
import { ErrorState, Loading } from "../components/states";
import { useAuth } from "./AuthProvider";

/** Renders the signed-in part of the app, or sends the visitor to the login page. */
export function RequireAuth() {
  const { user, bootError, retry } = useAuth();
  const location = useLocation();
  if (user === undefined && bootError)
    return (
      <main className="mx-auto max-w-md p-8">
        <ErrorState error={bootError} retry={retry} />
      </main>
    );
  if (user === undefined) return <Loading label="Checking your session" />;
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <Outlet />;
}

/** Platform admins only. */
export function RequireAdmin() {
  const { user } = useAuth();
  if (!user?.platformAdmin) return <Navigate to="/" replace />;
  return <Outlet />;
}
