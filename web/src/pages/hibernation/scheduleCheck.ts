import type { FormCheck } from "../../components/useCheckedForm";

export type ScheduleKey = "sleep_cron" | "wake_cron" | "time_zone" | "must_run";

/** The five fields of a cron pattern, in order, with the numbers each takes. */
const CRON_FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of the month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of the week", min: 0, max: 7 },
] as const;

/**
 * What is wrong with a five-field cron pattern, as a sentence; null when nothing this check knows
 * of is. Only numbers out of range and the count of fields: names (MON, JAN) and special
 * characters (L, W, #) are left to the server, which parses the pattern for real.
 */
export function cronProblem(text: string, what: string): string | null {
  const fields = text.trim().split(/\s+/).filter(Boolean);
  if (fields.length === 0) return `Enter when the cluster should ${what}, as a cron pattern such as 0 20 * * 1-5.`;
  if (fields.length !== 5) {
    return `A cron pattern has five fields (minute hour day-of-month month day-of-week); this one has ${fields.length}.`;
  }
  for (const [index, field] of fields.entries()) {
    const { name, min, max } = CRON_FIELDS[index];
    for (const item of field.split(",")) {
      const [range, step] = item.split("/");
      if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `The step in the ${name} field (${item}) must be a whole number of 1 or more.`;
      for (const part of range.split("-")) {
        if (/^\d+$/.test(part) && (Number(part) < min || Number(part) > max)) {
          return `The ${name} must be from ${min} to ${max}; ${part} is not.`;
        }
      }
    }
  }
  return null;
}

/** Whether the browser knows `zone` as a time zone (the server's list is the IANA one as well). */
function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const KUBERNETES_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** The schedule form's checks, every field at once. */
export const checkSchedule: FormCheck<ScheduleKey> = (values) => {
  const errors: Partial<Record<ScheduleKey, string>> = {};
  const sleep = String(values.sleep_cron);
  const wake = String(values.wake_cron);
  const sleepProblem = cronProblem(sleep, "go to sleep");
  if (sleepProblem) errors.sleep_cron = sleepProblem;
  const wakeProblem = cronProblem(wake, "wake up");
  if (wakeProblem) errors.wake_cron = wakeProblem;
  else if (!sleepProblem && sleep.trim().split(/\s+/).join(" ") === wake.trim().split(/\s+/).join(" ")) {
    errors.wake_cron = "The wake time must differ from the sleep time, or the cluster would never sleep.";
  }
  const zone = String(values.time_zone).trim();
  if (!zone) errors.time_zone = "Enter the time zone the times are in, such as Europe/Berlin.";
  else if (!knownTimeZone(zone)) errors.time_zone = `${zone} is not a time zone: use an IANA name such as Europe/Berlin or America/New_York.`;
  const bad = String(values.must_run)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .filter((entry) => {
      const parts = entry.split("/");
      return parts.length !== 2 || !parts.every((p) => KUBERNETES_NAME.test(p));
    });
  if (bad.length) {
    errors.must_run = `Write each workload as namespace/name in lower-case letters, digits, '-' and '.'; ${bad.join(", ")} ${bad.length === 1 ? "is" : "are"} not.`;
  }
  return errors;
};
