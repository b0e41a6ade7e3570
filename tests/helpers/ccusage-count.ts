/**
 * An independent re-implementation of ccusage's token counting over Claude Code transcripts, the
 * reference the transcript parser's usageSteps is compared against. It deliberately shares no code
 * with server/ingest/claude-code (do not import transcript.ts here).
 *
 * From ccusage (src/_data-schemas.ts usageDataSchema; the newer
 * apps/ccusage/src/adapter/claude/data-loader.ts):
 * - a line counts when it is JSON with an ISO `timestamp` and `message.usage` holding numeric
 *   `input_tokens` and `output_tokens` (cache fields optional numbers); ids, when present, are
 *   non-empty strings, or the line is skipped;
 * - the dedupe hash is `${message.id}:${requestId}` when both are present, else null, and a null
 *   hash is never a duplicate (such a line is always counted);
 * - of lines sharing a hash, the one with the larger input + output + cache total is kept (a tie
 *   goes to the one with `usage.speed`);
 * - every *.jsonl file under the folders given is read recursively (subagents/ included), and
 *   hashes are deduplicated across all of them.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export interface CcusageTotals {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

interface Counted {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  speed: boolean;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/;

function jsonlFiles(target: string): string[] {
  const stats = statSync(target);
  if (stats.isFile()) return target.endsWith(".jsonl") ? [target] : [];
  if (!stats.isDirectory()) return [];
  return readdirSync(target)
    .sort()
    .flatMap((name) => jsonlFiles(path.join(target, name)));
}

const optionalId = (v: unknown) => v === undefined || (typeof v === "string" && v.length > 0);
const optionalNumber = (v: unknown) => v === undefined || typeof v === "number";

/** The line's usage as ccusage's schema reads it, or undefined when ccusage would skip the line. */
function usageLine(line: string): { hash: string | null; counted: Counted } | undefined {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof data !== "object" || data === null) return undefined;
  const d = data as Record<string, unknown>;
  if (typeof d.timestamp !== "string" || !ISO.test(d.timestamp)) return undefined;
  const message = d.message as Record<string, unknown> | undefined;
  if (typeof message !== "object" || message === null) return undefined;
  const usage = message.usage as Record<string, unknown> | undefined;
  if (typeof usage !== "object" || usage === null) return undefined;
  if (typeof usage.input_tokens !== "number" || typeof usage.output_tokens !== "number") return undefined;
  if (!optionalNumber(usage.cache_creation_input_tokens) || !optionalNumber(usage.cache_read_input_tokens)) return undefined;
  if (!optionalId(message.id) || !optionalId(d.requestId) || !optionalId(d.sessionId) || !optionalId(message.model)) return undefined;
  const messageId = message.id as string | undefined;
  const requestId = d.requestId as string | undefined;
  return {
    hash: messageId !== undefined && requestId !== undefined ? `${messageId}:${requestId}` : null,
    counted: {
      input: usage.input_tokens,
      output: usage.output_tokens,
      cacheRead: (usage.cache_read_input_tokens as number | undefined) ?? 0,
      cacheWrite: (usage.cache_creation_input_tokens as number | undefined) ?? 0,
      speed: usage.speed !== undefined,
    },
  };
}

const total = (c: Counted) => c.input + c.output + c.cacheRead + c.cacheWrite;

/** ccusage's totals over files and folders (folders read recursively for *.jsonl). */
export function ccusageTotals(targets: readonly string[]): CcusageTotals {
  return ccusageTotalsOfTexts(targets.flatMap(jsonlFiles).map((file) => readFileSync(file, "utf8")));
}

/** The same over transcript texts already read. */
export function ccusageTotalsOfTexts(texts: readonly string[]): CcusageTotals {
  const kept = new Map<string, Counted>();
  const unkeyed: Counted[] = [];
  for (const text of texts) {
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const parsed = usageLine(line);
      if (!parsed) continue;
      if (parsed.hash === null) {
        unkeyed.push(parsed.counted);
        continue;
      }
      const previous = kept.get(parsed.hash);
      if (
        !previous ||
        total(parsed.counted) > total(previous) ||
        (total(parsed.counted) === total(previous) && parsed.counted.speed && !previous.speed)
      ) {
        kept.set(parsed.hash, parsed.counted);
      }
    }
  }
  const totals: CcusageTotals = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
  for (const c of [...kept.values(), ...unkeyed]) {
    totals.input += c.input;
    totals.output += c.output;
    totals.cacheRead += c.cacheRead;
    totals.cacheWrite += c.cacheWrite;
  }
  return totals;
}
