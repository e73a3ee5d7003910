import { useState } from "react";
import { Button } from "./ui";

/** Copies text to the clipboard; `what` names it for screen readers ("Copy external id"). */
export function CopyButton({ text, what }: { text: string; what: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard refused (no secure context): select-and-copy fallback.
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <Button variant="secondary" onClick={copy} aria-label={`Copy ${what}`}>
      <span aria-live="polite">{copied ? "Copied" : "Copy"}</span>
    </Button>
  );
}

/** A block of text to paste elsewhere, with its copy button. */
export function CopyBlock({ label, text }: { label: string; text: string }) {
  return (
    <div>
      <div className="mb-1 flex items-center justify-between">
        <span className="text-sm font-medium text-slate-700">{label}</span>
        <CopyButton text={text} what={label.toLowerCase()} />
      </div>
      <pre aria-label={label} className="max-h-56 overflow-auto rounded-md bg-slate-900 p-3 text-xs text-slate-100">
        {text}
      </pre>
    </div>
  );
}
