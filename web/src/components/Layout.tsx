import { Suspense } from "react";
import { NavLink, Outlet } from "react-router";
import { useAuth } from "../auth/AuthProvider";
import { NotificationBell } from "./NotificationBell";
import { PastDueBanner } from "./PastDueBanner";
import { SafeModeBanner } from "./SafeModeBanner";
import { Loading } from "./states";
import { TenantSwitcher } from "./TenantSwitcher";
import { Button } from "./ui";

const links = [
  { to: "/", label: "Dashboard", end: true },
  { to: "/clusters", label: "Clusters" },
  { to: "/accounts", label: "AWS accounts" },
  { to: "/optimizer", label: "Optimizer" },
  { to: "/policies", label: "Policies" },
  { to: "/hibernation", label: "Hibernation" },
  { to: "/risk", label: "Risk" },
  { to: "/audit", label: "Audit log" },
  { to: "/notifications", label: "Notifications" },
  { to: "/team", label: "Team and API keys" },
  { to: "/billing", label: "Billing" },
];

/** The signed-in frame: navigation on the left, the page on the right. */
export function Layout() {
  const { user, logout } = useAuth();
  const navClass = ({ isActive }: { isActive: boolean }) =>
    `block rounded-md px-3 py-1.5 text-sm ${isActive ? "bg-indigo-600 text-white" : "text-slate-300 hover:bg-slate-800 hover:text-white"}`;
  return (
    <div className="flex min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:m-2 focus:rounded focus:bg-white focus:p-2">
        Skip to content
      </a>
      <aside className="sticky top-0 flex h-screen w-52 shrink-0 flex-col bg-slate-900 p-3">
        <div className="mb-4 px-2 text-base font-semibold text-white">
          Spot <span className="text-indigo-400">Optimizer</span>
        </div>
        <nav aria-label="Main" className="flex-1 space-y-0.5 overflow-y-auto">
          {links.map((link) => (
            <NavLink key={link.to} to={link.to} end={link.end} className={navClass}>
              {link.label}
            </NavLink>
          ))}
          {user?.platformAdmin && (
            <NavLink to="/admin" className={navClass}>
              Admin
            </NavLink>
          )}
        </nav>
        <div className="border-t border-slate-700 pt-3 text-xs text-slate-400">
          <TenantSwitcher />
          <p className="truncate" title={user?.email}>
            {user?.email}
          </p>
          <Button variant="ghost" className="mt-1 w-full !justify-start !text-slate-300 hover:!bg-slate-800" onClick={() => void logout()}>
            Log out
          </Button>
        </div>
      </aside>
      <div className="min-w-0 flex-1">
        <SafeModeBanner />
        <PastDueBanner />
        <div className="flex justify-end border-b border-slate-200 bg-white px-6 py-2">
          <NotificationBell />
        </div>
        <main id="main" className="mx-auto max-w-7xl px-6 py-5">
          <Suspense fallback={<Loading label="Loading the page" />}>
            <Outlet />
          </Suspense>
        </main>
      </div>
    </div>
  );
}
