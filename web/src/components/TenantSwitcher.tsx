import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../api/clients";
import { errorMessage } from "../api/errors";
import { useAuth } from "../auth/AuthProvider";

/** For an account in several tenants: which one it acts in, and a way to move to another. */
export function TenantSwitcher() {
  const { user, switchTenant } = useAuth();
  const [error, setError] = useState<string | null>(null);
  const me = useQuery({ queryKey: ["me"], queryFn: () => api.auth().me({}), retry: false });
  const memberships = me.data?.memberships ?? [];
  if (!user || memberships.length < 2) return null;
  return (
    <div className="mb-2">
      <label htmlFor="tenant-switcher" className="mb-1 block text-slate-400">
        Tenant
      </label>
      <select
        id="tenant-switcher"
        className="w-full rounded-md border border-slate-600 bg-slate-800 px-2 py-1 text-sm text-white"
        value={user.tenantId}
        onChange={(event) => {
          setError(null);
          switchTenant(event.target.value).catch((err) => setError(errorMessage(err)));
        }}
      >
        {memberships.map((membership) => (
          <option key={membership.tenantId} value={membership.tenantId}>
            {membership.tenantName}
          </option>
        ))}
      </select>
      {error && (
        <p role="alert" className="mt-1 text-red-300">
          {error}
        </p>
      )}
    </div>
  );
}
