import { Code, ConnectError } from "@connectrpc/connect";

export function asConnectError(error: unknown): ConnectError {
  return ConnectError.from(error);
}

export function isUnimplemented(error: unknown): boolean {
  return error != null && asConnectError(error).code === Code.Unimplemented;
}

/** The call's result, or null when the server answers that it does not exist (NOT_FOUND). */
export async function nullIfNotFound<T>(call: Promise<T>): Promise<T | null> {
  try {
    return await call;
  } catch (error) {
    if (asConnectError(error).code === Code.NotFound) return null;
    throw error;
  }
}

/** A sentence for a person: the server's message without the "[code]" prefix Connect adds. */
export function errorMessage(error: unknown): string {
  const err = asConnectError(error);
  if (err.code === Code.Unimplemented) return "This feature is not available on this server yet.";
  if (err.code === Code.PermissionDenied) return err.rawMessage || "You do not have permission to do this.";
  if (err.code === Code.Unavailable) return "The server cannot be reached. Check your connection and try again.";
  return err.rawMessage || err.message;
}

/** One "invalid `policy.spot_percent`: must be at most 100" reason, split into field and text. */
export interface FieldError {
  /** The field path without the message prefix, e.g. "spot_percent" or "disruption_budget.max_percent". */
  field: string;
  reason: string;
}

const CRON_RULES: Record<string, [string, string]> = {
  minute: ["minute", "0 to 59"],
  hour: ["hour", "0 to 23"],
  "day-of-month": ["day of the month", "1 to 31"],
  month: ["month", "1 to 12 (or JAN to DEC)"],
  "day-of-week": ["day of the week", "0 to 7, Sunday being 0 or 7 (or SUN to SAT)"],
};

/**
 * A server reason as a person reads it: the text a parsing library adds ("the hour field `25`
 * is not valid (Number out of bounds)") becomes the rule it stands for, and a proto field name
 * the sentence mentions becomes what the form calls it.
 */
export function plainReason(reason: string): string {
  const cron = /^the (minute|hour|day-of-month|month|day-of-week) field `([^`]*)` is not valid \(.*\)$/s.exec(reason);
  if (cron) {
    const [name, range] = CRON_RULES[cron[1]];
    return `The ${name} field (${cron[2]}) is not valid: use a number from ${range}, *, a range such as 1-5, a list such as 1,3 or a step such as */15.`;
  }
  return reason.replace(/^the same as sleep_cron:/, "the same as the sleep time:");
}

/**
 * Parses the field-error contract of INVALID_ARGUMENT: one or more
 * "invalid `<prefix>.<field>`: <reason>" joined by "; ". Text that does not match is kept as a
 * general reason (field "").
 */
export function parseFieldErrors(message: string, prefix: string): FieldError[] {
  const parts = message.split(/;\s+(?=invalid `)/);
  return parts
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^invalid `([^`]+)`:\s*(.*)$/s.exec(part);
      if (!match) return { field: "", reason: part };
      const path = match[1].startsWith(`${prefix}.`) ? match[1].slice(prefix.length + 1) : match[1];
      return { field: path, reason: plainReason(match[2]) };
    });
}

/** A refused form: the reason per input, and the reasons that belong to no input. */
export interface FormErrors<K extends string> {
  fields: Partial<Record<K, string>>;
  general: string[];
}

/**
 * Sorts a mutation's error by the form's inputs: an INVALID_ARGUMENT field error goes to the input
 * its path starts with (`taints[1].effect` goes to `taints`); any other reason, or any other
 * error, is general.
 */
export function formErrors<K extends string>(error: unknown, prefix: string, inputs: readonly K[]): FormErrors<K> {
  const result: FormErrors<K> = { fields: {}, general: [] };
  if (!error) return result;
  const err = asConnectError(error);
  if (err.code !== Code.InvalidArgument) return { fields: {}, general: [errorMessage(err)] };
  for (const { field, reason } of parseFieldErrors(err.rawMessage, prefix)) {
    const input = inputs.find((key) => field === key || field.startsWith(`${key}[`) || field.startsWith(`${key}.`));
    if (!input) result.general.push(field ? `${field}: ${reason}` : reason);
    else result.fields[input] = result.fields[input] ? `${result.fields[input]}; ${reason}` : reason;
  }
  return result;
}
