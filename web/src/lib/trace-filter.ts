// The waterfall's filters, as the URL holds them and as the API's TraceFilter takes them.
//
// URL query: ?tool=read_file&tool=run_command&status=ok&status=running&errors=1&minLatency=500&trace=<id>
// "errors only" is statuses [error, timeout] (what Chat.stats counts as errors) and takes the place
// of any chosen statuses (the filter bar clears one when the other is set).

import type { TraceStatusName } from "./format";

export const TRACE_STATUSES: readonly TraceStatusName[] = ["running", "ok", "error", "timeout", "cancelled", "abandoned"];

export interface WaterfallFilter {
  tools: string[];
  statuses: TraceStatusName[];
  errorsOnly: boolean;
  minLatencyMs: number | null;
}

export const EMPTY_FILTER: WaterfallFilter = { tools: [], statuses: [], errorsOnly: false, minLatencyMs: null };

/** The API's TraceFilter input (only the fields the view sets). */
export interface TraceFilterVars {
  toolNames?: string[];
  statuses?: TraceStatusName[];
  minLatencyMs?: number;
}

type QueryValue = string | null | (string | null)[] | undefined;

const list = (v: QueryValue): string[] => (Array.isArray(v) ? v : v == null ? [] : [v]).filter((s): s is string => typeof s === "string" && s !== "");

export function filterFromQuery(query: Record<string, QueryValue>): WaterfallFilter {
  const tools = [...new Set(list(query.tool))].sort();
  const statuses = [...new Set(list(query.status))].filter((s): s is TraceStatusName => (TRACE_STATUSES as readonly string[]).includes(s)).sort();
  const errorsRaw = list(query.errors)[0];
  const minRaw = list(query.minLatency)[0];
  const min = minRaw != null && /^\d+$/.test(minRaw) ? Number(minRaw) : null;
  return { tools, statuses, errorsOnly: errorsRaw === "1" || errorsRaw === "true", minLatencyMs: min != null && min > 0 ? min : null };
}

/** The query params of a filter (empty ones left out), merged over the rest of the query by the caller. */
export function filterToQuery(filter: WaterfallFilter): Record<string, string | string[] | undefined> {
  return {
    tool: filter.tools.length ? [...filter.tools].sort() : undefined,
    status: filter.statuses.length ? [...filter.statuses].sort() : undefined,
    errors: filter.errorsOnly ? "1" : undefined,
    minLatency: filter.minLatencyMs != null && filter.minLatencyMs > 0 ? String(filter.minLatencyMs) : undefined,
  };
}

/** The statuses the filter lets through, or null for all. */
export function effectiveStatuses(filter: WaterfallFilter): TraceStatusName[] | null {
  if (filter.errorsOnly) return ["error", "timeout"];
  return filter.statuses.length ? [...filter.statuses].sort() : null;
}

/** The TraceFilter variable for the API, or null when nothing is filtered. */
export function toTraceFilter(filter: WaterfallFilter): TraceFilterVars | null {
  const out: TraceFilterVars = {};
  if (filter.tools.length) out.toolNames = [...filter.tools].sort();
  const statuses = effectiveStatuses(filter);
  if (statuses) out.statuses = statuses;
  if (filter.minLatencyMs != null && filter.minLatencyMs > 0) out.minLatencyMs = filter.minLatencyMs;
  return Object.keys(out).length ? out : null;
}

export function isFiltered(filter: WaterfallFilter): boolean {
  return toTraceFilter(filter) != null;
}

export interface FilterableTrace {
  toolName: string;
  status: string;
  latencyMs?: number | null;
}

/** Whether a trace passes the filter, as the server decides it (a running trace has no latency yet). */
export function matchesFilter(trace: FilterableTrace, filter: WaterfallFilter): boolean {
  if (filter.tools.length && !filter.tools.includes(trace.toolName)) return false;
  const statuses = effectiveStatuses(filter);
  if (statuses && !statuses.includes(trace.status as TraceStatusName)) return false;
  if (filter.minLatencyMs != null && filter.minLatencyMs > 0 && (trace.latencyMs == null || trace.latencyMs < filter.minLatencyMs)) return false;
  return true;
}

export function sameFilter(a: WaterfallFilter, b: WaterfallFilter): boolean {
  return JSON.stringify(toTraceFilter(a)) === JSON.stringify(toTraceFilter(b));
}
