import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link } from "react-router";
import { errorMessage, isUnimplemented } from "../api/errors";

export function Loading({ label = "Loading" }: { label?: string }) {
  return (
    <div role="status" aria-live="polite" className="flex items-center gap-2 p-4 text-sm text-slate-500">
      <span className="h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-indigo-600" aria-hidden />
      {label}…
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-slate-300 bg-white p-6 text-center">
      <p className="font-medium text-slate-700">{title}</p>
      {children && <div className="mt-1 text-sm text-slate-500">{children}</div>}
    </div>
  );
}

/** What the page is about does not exist (or is not the caller's): say so and link back. */
export function NotFound({ title, backTo, backLabel }: { title: string; backTo: string; backLabel: string }) {
  return (
    <Empty title={title}>
      <Link to={backTo} className="text-indigo-700 underline">
        {backLabel}
      </Link>
    </Empty>
  );
}

/** The "not on this server yet" state of an UNIMPLEMENTED RPC. */
export function NotAvailable({ feature }: { feature: string }) {
  return (
    <div role="note" className="rounded-lg border border-amber-200 bg-amber-50 p-4 text-sm text-amber-900">
      <p className="font-medium">{feature} is not available on this server yet.</p>
      <p className="mt-1">The server answered that this part of the platform is not implemented. Everything else keeps working.</p>
    </div>
  );
}

export function ErrorState({ error, feature, retry }: { error: unknown; feature?: string; retry?: () => void }) {
  if (isUnimplemented(error)) return <NotAvailable feature={feature ?? "This feature"} />;
  return (
    <div role="alert" className="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-800">
      <p>{errorMessage(error)}</p>
      {retry && (
        <button type="button" onClick={retry} className="mt-2 font-medium underline">
          Try again
        </button>
      )}
    </div>
  );
}

interface QueryViewProps<T> {
  query: UseQueryResult<T>;
  /** Shown instead of children when isEmpty says the data is empty. */
  empty?: ReactNode;
  isEmpty?: (data: T) => boolean;
  feature?: string;
  loadingLabel?: string;
  children: (data: T) => ReactNode;
}

/** Loading, error (incl. not available), empty and data states of one query. */
export function QueryView<T>({ query, empty, isEmpty, feature, loadingLabel, children }: QueryViewProps<T>) {
  if (query.isPending) return <Loading label={loadingLabel} />;
  if (query.isError) return <ErrorState error={query.error} feature={feature} retry={() => void query.refetch()} />;
  if (empty && isEmpty?.(query.data)) return <>{empty}</>;
  return <>{children(query.data)}</>;
}
