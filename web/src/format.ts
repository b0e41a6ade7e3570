// Small formatting helpers shared by the views.

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const integer = new Intl.NumberFormat(undefined);
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600_000],
  ["month", 30 * 24 * 3600_000],
  ["week", 7 * 24 * 3600_000],
  ["day", 24 * 3600_000],
  ["hour", 3600_000],
  ["minute", 60_000],
  ["second", 1000],
];

/** "5 min. ago", "yesterday", "just now": an instant relative to `now` (both epoch ms or ISO strings). */
export function relativeTime(at: string | number | Date, now: number = Date.now()): string {
  const ms = new Date(at).getTime();
  if (Number.isNaN(ms)) return "—";
  const diff = ms - now;
  if (Math.abs(diff) < 10_000) return "just now";
  for (const [unit, size] of UNITS) {
    if (Math.abs(diff) >= size || unit === "second") return relative.format(Math.round(diff / size), unit);
  }
  return relative.format(0, "second");
}

/** The full local date and time, for title attributes. */
export function absoluteTime(at: string | number | Date): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? "" : `${absolute.format(date)} (${date.toISOString()})`;
}

/** HH:MM:SS.mmm, for dense event tables. */
export function clockTime(at: string | number | Date): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return "—";
  return `${clock.format(date)}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

/** A count with grouping (12,345); BigInt scalars arrive as number or string. */
export function formatCount(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const n = Number(value);
  return Number.isFinite(n) ? integer.format(n) : String(value);
}

/** 12.3K: short form of a large count (give the full one in a title). */
export function formatCompact(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const n = Number(value);
  return Number.isFinite(n) ? compact.format(n) : String(value);
}

/** The first and last characters of a long opaque string (cursors, ids). */
export function middleTruncate(value: string, keep = 8): string {
  return value.length <= keep * 2 + 1 ? value : `${value.slice(0, keep)}…${value.slice(-keep)}`;
}

/** Milliseconds as "840 ms", "2.1 s", "3 min 5 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}
