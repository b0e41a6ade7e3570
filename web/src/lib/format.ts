// Formatting for the chat view: durations, idle stretches, token counts, sizes, clock times and
// trace statuses (an icon and a word, never colour alone).

/** A latency or duration: "0 ms", "850 ms", "2.1 s", "42 s", "3 m 12 s", "2 h 05 m". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "–";
  const v = Math.max(0, ms);
  if (v < 1_000) return `${Math.round(v)} ms`;
  if (v < 10_000) return `${(Math.floor(v / 100) / 10).toFixed(1)} s`;
  if (v < 60_000) return `${Math.floor(v / 1_000)} s`;
  if (v < 3_600_000) {
    const m = Math.floor(v / 60_000);
    const s = Math.floor((v % 60_000) / 1_000);
    return `${m} m ${String(s).padStart(2, "0")} s`;
  }
  const h = Math.floor(v / 3_600_000);
  const m = Math.floor((v % 3_600_000) / 60_000);
  if (h >= 48) return `${Math.floor(h / 24)} d ${h % 24} h`;
  return `${h} h ${String(m).padStart(2, "0")} m`;
}

/** An idle stretch, coarser: "45 s", "12 m", "3 h 12 m", "2 d 4 h". */
export function formatIdle(ms: number): string {
  const v = Math.max(0, ms);
  if (v < 60_000) return `${Math.round(v / 1_000)} s`;
  if (v < 3_600_000) return `${Math.floor(v / 60_000)} m`;
  if (v < 86_400_000) {
    const h = Math.floor(v / 3_600_000);
    const m = Math.floor((v % 3_600_000) / 60_000);
    return m ? `${h} h ${m} m` : `${h} h`;
  }
  const d = Math.floor(v / 86_400_000);
  const h = Math.floor((v % 86_400_000) / 3_600_000);
  return h ? `${d} d ${h} h` : `${d} d`;
}

const grouped = new Intl.NumberFormat("en-US");

/** A count with thousands separators: 1234567 → "1,234,567". BigInt fields may come as strings. */
export function formatCount(n: number | string | bigint | null | undefined): string {
  if (n == null || n === "") return "0";
  const v = typeof n === "string" ? Number(n) : n;
  if (typeof v === "number" && !Number.isFinite(v)) return String(n);
  return grouped.format(v);
}

/** A token count, compact above ten thousand: 950 → "950", 12_345 → "12.3k", 4_200_000 → "4.2M". */
export function formatTokens(n: number | string | bigint | null | undefined): string {
  const v = n == null || n === "" ? 0 : Number(n);
  if (!Number.isFinite(v)) return String(n);
  if (Math.abs(v) < 10_000) return grouped.format(v);
  if (Math.abs(v) < 1_000_000) return `${(v / 1_000).toFixed(1)}k`;
  if (Math.abs(v) < 1_000_000_000) return `${(v / 1_000_000).toFixed(1)}M`;
  return `${(v / 1_000_000_000).toFixed(1)}B`;
}

/** Bytes: "512 B", "31.9 KiB", "1.2 MiB". */
export function formatBytes(n: number | null | undefined): string {
  if (n == null) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** A clock time in local time, precise enough for a step: "14:03", "14:03:12", "14:03:12.250". */
export function formatClock(t: number, stepMs = 1_000): string {
  const d = new Date(t);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (stepMs >= 60_000) return hm;
  const hms = `${hm}:${pad(d.getSeconds())}`;
  return stepMs >= 1_000 ? hms : `${hms}.${pad(d.getMilliseconds(), 3)}`;
}

/** A full local date and time: "2026-11-24 21:08:15". */
export function formatDateTime(iso: string | number | null | undefined): string {
  if (iso == null) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The first line of an error, for a list row. */
export function firstLine(text: string | null | undefined, max = 160): string {
  if (!text) return "";
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export type TraceStatusName = "running" | "ok" | "error" | "timeout" | "cancelled" | "abandoned";

export interface StatusInfo {
  icon: string;
  label: string;
  /** CSS modifier: the colour only repeats what the icon and label say */
  tone: "running" | "ok" | "error" | "warn" | "muted";
  isError: boolean;
}

const STATUS: Record<TraceStatusName, StatusInfo> = {
  running: { icon: "◔", label: "running", tone: "running", isError: false },
  ok: { icon: "✓", label: "ok", tone: "ok", isError: false },
  error: { icon: "✕", label: "error", tone: "error", isError: true },
  timeout: { icon: "◷", label: "timeout", tone: "error", isError: true },
  cancelled: { icon: "⊘", label: "cancelled", tone: "muted", isError: false },
  abandoned: { icon: "⚠", label: "abandoned", tone: "warn", isError: false },
};

export function statusInfo(status: string): StatusInfo {
  return STATUS[status as TraceStatusName] ?? { icon: "?", label: status, tone: "muted", isError: false };
}

/** error and timeout count as errors (as Chat.stats.errorCount and the "errors only" filter do). */
export const ERROR_STATUSES = ["error", "timeout"] as const;

export function isErrorStatus(status: string): boolean {
  return status === "error" || status === "timeout";
}

/** Pretty JSON for display (two-space indent). */
export function prettyJson(value: unknown): string {
  if (value === undefined) return "";
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}
