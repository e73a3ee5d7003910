import type { Money } from "@spot-optimizer/sdk/gen/spot/billing/v1/billing_pb.js";
import { currencyMinorDigits, formatCurrency } from "../api/format";

// Money stays integer (minor units, or micro units for metered usage) everywhere; it becomes a
// floating-point number only here, to be shown.

/** The currency's minor units per major unit: 100 for USD (cents), 1 for JPY. */
function minorPerMajor(currency: string): number {
  try {
    return 10 ** currencyMinorDigits(currency);
  } catch {
    return 100;
  }
}

const currencyOf = (m: Pick<Money, "currency">) => (m.currency || "USD").toUpperCase();

/** "$1,234.56": minor units in the money's currency (USD when none is given, e.g. a zero minimum). */
export function formatMoney(m: Money | undefined): string {
  if (!m) return "—";
  const currency = currencyOf(m);
  return formatCurrency(Number(m.minorUnits) / minorPerMajor(currency), currency);
}

/** Micro units (1/1,000,000 of the currency, as usage is metered) in major units, for charts. */
export function microsToMajor(micros: bigint): number {
  return Number(micros) / 1_000_000;
}

/** A major-unit amount (e.g. a chart value) in the currency. */
export function formatMajor(major: number, currency = "USD"): string {
  return formatCurrency(major, currency);
}

export const isZero = (m: Money | undefined) => !m || m.minorUnits === 0n;
