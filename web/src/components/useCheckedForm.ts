import { useState } from "react";
import type { FormErrors } from "../api/errors";

/** The form's own checks: a plain sentence per field that breaks a rule, nothing for the rest. */
export type FormCheck<K extends string> = (values: Record<K, unknown>) => Partial<Record<K, string>>;

/** For a form whose rules only the server knows: its reasons still go once their field changes. */
export const serverChecksOnly = () => ({});

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The errors a form shows, all at once and only while they hold. Its own checks run on submit and
 * then on every change, so a fixed field's error goes as soon as it is fixed; the server's reason
 * for a field stays only while the field still holds the value the server refused. The server
 * stays the authority: the checks only say early, and together, what it would say one at a time.
 */
export function useCheckedForm<K extends string>(values: Record<K, unknown>, check: FormCheck<K>) {
  const [attempted, setAttempted] = useState(false);
  const [sent, setSent] = useState<Record<K, unknown> | null>(null);
  const local = attempted ? check(values) : {};
  return {
    /** On submit: whether the values pass the checks and are to be sent. */
    attempt(): boolean {
      setAttempted(true);
      if (Object.keys(check(values)).length > 0) return false;
      setSent(values);
      return true;
    },
    /** After a success: start again from a clean form. */
    reset() {
      setAttempted(false);
      setSent(null);
    },
    /** The form's own errors, then the server's reasons for fields still holding what it refused. */
    errors(server: FormErrors<K>): FormErrors<K> {
      const fields: Partial<Record<K, string>> = { ...local };
      for (const key of Object.keys(server.fields) as K[]) {
        if (!fields[key] && sent && same(sent[key], values[key])) fields[key] = server.fields[key];
      }
      return { fields, general: server.general };
    },
  };
}
