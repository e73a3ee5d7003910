import type { ReactNode } from "react";

/** The centred card of the signed-out pages. */
export function AuthFrame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="flex min-h-screen items-center justify-center bg-slate-100 p-4">
      <div className="w-full max-w-sm rounded-xl bg-white p-6 shadow-md">
        <p className="text-center text-lg font-semibold">
          Spot <span className="text-indigo-600">Optimizer</span>
        </p>
        <h1 className="mb-4 mt-1 text-center text-sm text-slate-500">{title}</h1>
        {children}
      </div>
    </main>
  );
}
