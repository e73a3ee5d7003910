import { useId } from "react";
import type { FormErrors } from "../api/errors";

export interface SummaryItem {
  /** The input to jump to; absent for an error not tied to one field. */
  id?: string;
  label?: string;
  reason: string;
}

/** The summary of a refused form: each input's reason (linking to it), then the other reasons. */
export function summaryOf<K extends string>(errors: FormErrors<K>, inputs: Record<K, { id: string; label: string }>): SummaryItem[] {
  const fieldItems = (Object.keys(errors.fields) as K[]).map((key) => ({ ...inputs[key], reason: errors.fields[key] ?? "" }));
  return [...fieldItems, ...errors.general.map((reason) => ({ reason }))];
}

/** Every reason the server gave under `title` ("The policy was not saved"), each linking to its input. */
export function FieldErrorSummary({ title, items, className = "" }: { title: string; items: SummaryItem[]; className?: string }) {
  const titleId = useId();
  if (items.length === 0) return null;
  return (
    <div role="alert" aria-labelledby={titleId} className={`mb-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800 ${className}`}>
      <p id={titleId} className="font-medium">
        {title}: {items.length === 1 ? "one problem" : `${items.length} problems`}.
      </p>
      <ul className="mt-1 list-disc pl-5">
        {items.map((item, i) => (
          <li key={i}>
            {item.id ? (
              <a href={`#${item.id}`} className="underline" onClick={(e) => { e.preventDefault(); document.getElementById(item.id!)?.focus(); }}>
                {item.label}: {item.reason}
              </a>
            ) : (
              item.reason
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
