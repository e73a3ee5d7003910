import type { UsageRecord } from "@spot-optimizer/sdk/gen/spot/billing/v1/billing_pb.js";
import { toDate } from "../../api/format";

const DAY_MS = 86_400_000;

export interface DaySavings {
  /** The UTC day, "2026-12-03". */
  day: string;
  /** The day's metered savings, in micro units (summed as integers). */
  micros: bigint;
}

const utcDay = (date: Date) => date.toISOString().slice(0, 10);

/**
 * The metered savings per UTC day: every day from `from` until `until` (zero where no hour was
 * metered), and any other day a record falls on. Oldest first.
 */
export function savingsPerDay(records: UsageRecord[], from: Date | null, until: Date | null): DaySavings[] {
  const byDay = new Map<string, bigint>();
  if (from && until) {
    const first = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
    for (let t = first; t < until.getTime(); t += DAY_MS) byDay.set(utcDay(new Date(t)), 0n);
  }
  for (const record of records) {
    const at = toDate(record.hourStart);
    if (!at) continue;
    const day = utcDay(at);
    byDay.set(day, (byDay.get(day) ?? 0n) + record.savingsMicros);
  }
  return [...byDay.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([day, micros]) => ({ day, micros }));
}
