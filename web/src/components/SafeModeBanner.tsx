import { useMe } from "./useMe";

/** Tells every user of every tenant, on every page, while the platform is in safe mode. */
export function SafeModeBanner() {
  const me = useMe();
  if (!me.data?.safeMode) return null;
  return (
    <div role="alert" data-testid="safe-mode-banner" className="border-b border-red-200 bg-red-50 px-6 py-2 text-sm text-red-800">
      <strong>Safe mode is on.</strong> The platform changes nothing in any cluster (no launches, terminations, drains or cordons) until a platform admin turns it off. Plans cannot be applied meanwhile; a plan being applied stops at its next step and shows as Refused.
    </div>
  );
}
