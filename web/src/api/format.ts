import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

// Every amount and percentage the app shows goes through the helpers below, so they read the same
// on every page: money as currency with two decimals, a price per hour under a dollar with four
// (there the sub-cent digits tell pools apart), percentages with one decimal, and a negative value
// always with a true minus sign before the currency symbol: −$1.23, never $-1.23 or -$1.23.

const MINUS = "\u2212";
const currencyFormats = new Map<string, Intl.NumberFormat>();

function currencyFormat(currency: string, decimals: number): Intl.NumberFormat {
  const key = `${currency}/${decimals}`;
  let format = currencyFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    currencyFormats.set(key, format);
  }
  return format;
}

const minorDigitsByCurrency = new Map<string, number>();

/** The currency's digits after the point: 2 for USD, 0 for JPY. Throws for a code the browser does not know. */
export function currencyMinorDigits(currency: string): number {
  let digits = minorDigitsByCurrency.get(currency);
  if (digits === undefined) {
    digits = new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
    minorDigitsByCurrency.set(currency, digits);
  }
  return digits;
}

/** The sign, then the rest: what rounds to zero shows no sign at all. */
function signed(value: number, rest: (magnitude: number) => string): string {
  const text = rest(Math.abs(value));
  return value < 0 && /[1-9]/.test(text) ? `${MINUS}${text}` : text;
}

/**
 * An amount in a currency (USD unless given), with `decimals` digits after the point (two by
 * default; a currency without minor units, such as JPY, takes none). A currency code the browser
 * does not know is written after the amount.
 */
export function formatCurrency(value: number, currency = "USD", decimals = 2): string {
  const code = (currency || "USD").toUpperCase();
  let format: Intl.NumberFormat;
  try {
    format = currencyFormat(code, currencyMinorDigits(code) === 0 ? 0 : decimals);
  } catch {
    return signed(value, (m) => `${m.toFixed(decimals)} ${code}`);
  }
  return signed(value, (m) => format.format(m));
}

/** "$1,234.56", "−$12.00". */
export const formatUsd = (value: number) => formatCurrency(value);

/** A price or cost per hour: "$0.0960" under a dollar, "$12.35" from a dollar up (no "/h"). */
export const formatUsdPerHour = (value: number) => formatCurrency(value, "USD", Math.abs(value) < 1 && value !== 0 ? 4 : 2);

/** "12.5 %", "−3.0 %": always one decimal. */
export const formatPercent = (value: number) => signed(value, (m) => `${m.toFixed(1)} %`);

/** The user's own time zone, as the browser reports it. */
export const userTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

export function toDate(ts: Timestamp | undefined): Date | null {
  if (!ts) return null;
  const date = timestampDate(ts);
  return date.getTime() > 0 ? date : null;
}

export function formatTime(ts: Timestamp | undefined): string {
  const date = toDate(ts);
  return date ? date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }) : "—";
}

export function formatRelative(ts: Timestamp | undefined): string {
  const date = toDate(ts);
  if (!date) return "never";
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return rtf.format(Math.round(seconds / 86400), "day");
}

export function formatMib(mib: bigint | number): string {
  const value = Number(mib);
  return value >= 1024 ? `${(value / 1024).toFixed(1)} GiB` : `${value} MiB`;
}

export function formatCpu(millis: bigint | number): string {
  const value = Number(millis);
  return value % 1000 === 0 ? `${value / 1000} vCPU` : `${(value / 1000).toFixed(2)} vCPU`;
}

/** "ON_DEMAND" -> "On demand". */
export function enumLabel(name: string | undefined): string {
  if (!name) return "—";
  const text = name.toLowerCase().replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}
