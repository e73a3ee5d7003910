import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

const usd = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const usdPrecise = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumFractionDigits: 4 });

export const formatUsd = (value: number) => usd.format(value);
export const formatUsdPrecise = (value: number) => usdPrecise.format(value);
export const formatPercent = (value: number, digits = 1) => `${value.toFixed(digits)} %`;

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
