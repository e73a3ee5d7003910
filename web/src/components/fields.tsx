import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from "react";

interface FieldProps {
  label: string;
  /** The server's reason for this field, shown under it and announced with it. */
  error?: string;
  hint?: ReactNode;
  id?: string;
  /** Keep the label for screen readers only (inside a table row that already says what it is). */
  hideLabel?: boolean;
}

/** A field's ids: the control's, and its error's and hint's, with the control's ARIA wiring. */
function useField(id: string | undefined, error?: string, hint?: ReactNode) {
  const generated = useId();
  const inputId = id ?? generated;
  const errorId = `${inputId}-error`;
  const hintId = `${inputId}-hint`;
  const control = {
    id: inputId,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": [error ? errorId : null, hint ? hintId : null].filter(Boolean).join(" ") || undefined,
  };
  return { inputId, errorId, hintId, control };
}

const inputClass = (error?: string) =>
  `mt-1 block w-full rounded-md border px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:ring-1 focus:ring-indigo-500 focus:outline-none ${
    error ? "border-red-500 bg-red-50" : "border-slate-300 bg-white"
  }`;

function FieldMessages({ errorId, hintId, error, hint }: { errorId: string; hintId: string; error?: string; hint?: ReactNode }) {
  return (
    <>
      {hint && (
        <p id={hintId} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      )}
      {error && (
        <p id={errorId} className="mt-1 text-xs font-medium text-red-700">
          {error}
        </p>
      )}
    </>
  );
}

export function TextField({ label, error, hint, id, ...input }: FieldProps & InputHTMLAttributes<HTMLInputElement>) {
  const field = useField(id, error, hint);
  return (
    <div>
      <label htmlFor={field.inputId} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      <input
        {...field.control}
        className={inputClass(error)}
        {...input}
      />
      <FieldMessages errorId={field.errorId} hintId={field.hintId} error={error} hint={hint} />
    </div>
  );
}

/** A multi-line text input: lists one a line, scripts. */
export function TextAreaField({ label, error, hint, id, className = "", ...textarea }: FieldProps & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const field = useField(id, error, hint);
  return (
    <div>
      <label htmlFor={field.inputId} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      <textarea
        {...field.control}
        className={`${inputClass(error).replace("text-sm", "font-mono text-xs")} ${className}`}
        {...textarea}
      />
      <FieldMessages errorId={field.errorId} hintId={field.hintId} error={error} hint={hint} />
    </div>
  );
}

export function SelectField({
  label,
  error,
  hint,
  id,
  hideLabel,
  children,
  ...select
}: FieldProps & SelectHTMLAttributes<HTMLSelectElement> & { children: ReactNode }) {
  const field = useField(id, error, hint);
  return (
    <div>
      <label htmlFor={field.inputId} className={hideLabel ? "sr-only" : "block text-sm font-medium text-slate-700"}>
        {label}
      </label>
      <select
        {...field.control}
        className={inputClass(error)}
        {...select}
      >
        {children}
      </select>
      <FieldMessages errorId={field.errorId} hintId={field.hintId} error={error} hint={hint} />
    </div>
  );
}

export function CheckboxField({
  label,
  error,
  hint,
  id,
  ...input
}: FieldProps & Omit<InputHTMLAttributes<HTMLInputElement>, "type">) {
  const field = useField(id, error, hint);
  return (
    <div>
      <div className="flex items-center gap-2">
        <input
          {...field.control}
          type="checkbox"
          className="h-4 w-4 rounded border-slate-300 text-indigo-600"
          {...input}
        />
        <label htmlFor={field.inputId} className="text-sm font-medium text-slate-700">
          {label}
        </label>
      </div>
      <FieldMessages errorId={field.errorId} hintId={field.hintId} error={error} hint={hint} />
    </div>
  );
}
