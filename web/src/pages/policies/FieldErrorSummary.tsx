export interface SummaryItem {
  /** The input to jump to; absent for an error not tied to one field. */
  id?: string;
  label?: string;
  reason: string;
}

/** Every reason the server gave, each linking to its input. */
export function FieldErrorSummary({ items }: { items: SummaryItem[] }) {
  if (items.length === 0) return null;
  return (
    <div role="alert" aria-labelledby="policy-error-summary-title" className="mb-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
      <p id="policy-error-summary-title" className="font-medium">
        The policy was not saved: {items.length === 1 ? "one problem" : `${items.length} problems`}.
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
