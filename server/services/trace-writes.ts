// The hot write path: starts, finishes and recorded traces, each batch in ONE statement (a
// data-modifying CTE), so a write costs one round trip and the chat's row lock is held for one
// statement instead of seven. The guarantees are the same as writeChats':
// - the chats are locked FOR UPDATE in id order before anything is numbered, so an event's seq is
//   taken under its chat's lock and cursor order stays commit order;
// - one statement is one transaction: all of it or none of it;
// - counters (trace, running, error) move with the rows, by the triggers on tool_traces.
// Items the statement cannot write plainly (a retried tool call id, an unknown chat or trace, a
// finish before its start) are left unwritten and reported, and the caller runs them through the
// general path (writeChats), which answers each with its typed error or its replayed row.
import type { ToolTrace } from "../db/generated/prisma/client.js";
import type { TraceStatus } from "../db/generated/prisma/enums.js";
import type { WriteSql } from "../db/sql-connection.js";
import type { ChatEventMessage } from "../events/topics.js";
import { LATEST_INSTANT } from "./dates.js";

/** A new trace's columns; session and turn default to the chat's when null. */
export interface StartRow {
  id: string;
  chatId: string;
  sessionId: string | null;
  messageId: string | null;
  toolCallId: string | null;
  turnNumber: number | null;
  toolName: string;
  toolInput: unknown;
  startedAt: Date;
  startedAtFromClient: boolean;
  startHash: string;
  createdAt: Date;
  ownerRunId: string | null;
  agentId: string | null;
  agentType: string | null;
  /** Secrets scrubbed from the input (a recorded trace: from its output and error too). */
  scrubbedCount: number;
}

/** What a finish sets; null finishedAt/latencyMs are worked out from the stored start. */
export interface FinishRow {
  traceId: string | null;
  chatId: string | null;
  toolCallId: string | null;
  finishedAt: Date | null;
  latencyMs: number | null;
  status: TraceStatus;
  toolOutput: string | null;
  outputBytes: number | null;
  outputHash: string | null;
  error: string | null;
  outcome: string | null;
  finishHash: string;
  tokens: { input: number; output: number; cacheRead: number; cacheWrite: number; reasoning: number } | null;
  /** Secrets scrubbed from the output and error: added to the start's count. */
  scrubbedCount: number;
}

/** A recorded (already finished) trace: every column known but the chat's defaults; its count is StartRow's. */
export type RecordRow = StartRow &
  Omit<FinishRow, "traceId" | "chatId" | "toolCallId" | "finishedAt" | "latencyMs" | "scrubbedCount"> & { finishedAt: Date; latencyMs: number };

export interface Written {
  /** By the index of the item in the batch; items left out were not written. */
  traces: Map<number, ToolTrace>;
  events: ChatEventMessage[];
}

/** Raised by recordAll when the batch needs the general path (see there); nothing was written. */
export class NeedsGeneralPath extends Error {
  override name = "NeedsGeneralPath";
}

// Read back as text where a driver would otherwise return its own type (uuid, enum), and instants as
// ISO 8601 text in UTC: a driver's own parsing of "0001-01-01 00:00:00+00" gave the year 2001.
const TRACE_COLUMNS = `id::text, chat_id::text, session_id::text, message_id, tool_call_id, turn_number, tool_name, tool_input,
  tool_output, output_bytes, output_hash, iso(started_at), started_at_from_client, iso(finished_at), latency_ms, start_hash, finish_hash,
  status::text, error, outcome, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, iso(created_at),
  owner_run_id::text, agent_id, agent_type, scrubbed_count`;

const columnsOf = (alias: string) =>
  TRACE_COLUMNS.replace(/(^|,\s*)(\w+)/g, `$1${alias}.$2`).replace(
    /(\w+)\.iso\((\w+)\)/g,
    // In UTC whatever the session's TimeZone: an offset with seconds (Amsterdam in 1900) is no ISO JavaScript reads.
    `to_char($1.$2 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS $2`,
  );

interface TraceRecord {
  id: string;
  chat_id: string;
  session_id: string;
  message_id: string | null;
  tool_call_id: string | null;
  turn_number: number;
  tool_name: string;
  tool_input: unknown;
  tool_output: string | null;
  output_bytes: number | null;
  output_hash: string | null;
  started_at: Date | string;
  started_at_from_client: boolean;
  finished_at: Date | string | null;
  latency_ms: number | null;
  start_hash: string;
  finish_hash: string | null;
  status: TraceStatus;
  error: string | null;
  outcome: string | null;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  created_at: Date | string;
  owner_run_id: string | null;
  agent_id: string | null;
  agent_type: string | null;
  scrubbed_count: number;
}

type Returned = TraceRecord & { idx: number; seq: number; seq2: number | null };

const toDate = (v: Date | string) => (v instanceof Date ? v : new Date(v));

/** A returned row as Prisma would give it. */
function toTrace(r: TraceRecord): ToolTrace {
  return {
    id: r.id,
    chatId: r.chat_id,
    sessionId: r.session_id,
    messageId: r.message_id,
    toolCallId: r.tool_call_id,
    turnNumber: r.turn_number,
    toolName: r.tool_name,
    toolInput: r.tool_input as ToolTrace["toolInput"],
    toolOutput: r.tool_output,
    outputBytes: r.output_bytes,
    outputHash: r.output_hash,
    startedAt: toDate(r.started_at),
    startedAtFromClient: r.started_at_from_client,
    finishedAt: r.finished_at === null ? null : toDate(r.finished_at),
    latencyMs: r.latency_ms,
    startHash: r.start_hash,
    finishHash: r.finish_hash,
    status: r.status,
    error: r.error,
    outcome: r.outcome,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    cacheReadTokens: r.cache_read_tokens,
    cacheWriteTokens: r.cache_write_tokens,
    reasoningTokens: r.reasoning_tokens,
    createdAt: toDate(r.created_at),
    ownerRunId: r.owner_run_id,
    agentId: r.agent_id,
    agentType: r.agent_type,
    scrubbedCount: r.scrubbed_count,
  };
}

const START_INPUT = `idx int, id uuid, chat_id uuid, session_id uuid, message_id text, tool_call_id text, turn_number int,
  tool_name text, tool_input jsonb, started_at timestamptz, started_at_from_client boolean, start_hash text, created_at timestamptz,
  owner_run_id uuid, agent_id text, agent_type text, scrubbed_count int`;

const FINISH_COLUMNS = `status text, tool_output text, output_bytes int, output_hash text, error text, outcome text, finish_hash text,
  input_tokens int, output_tokens int, cache_read_tokens int, cache_write_tokens int, reasoning_tokens int, has_tokens boolean`;

// The chats' event counters move to the last seq each statement numbered, with their last activity.
const BUMP_CHATS = `
  bumped AS (
    UPDATE chats c SET event_seq = k.last_seq, last_activity_at = $2::timestamptz
      FROM (SELECT chat_id, max(last_seq) AS last_seq FROM numbered GROUP BY chat_id) k
     WHERE c.id = k.chat_id)`;

/** A model step keeps the largest count of each kind, however many of its calls report it. */
export const KEEP_LARGEST_USAGE = `ON CONFLICT (chat_id, step_key) DO UPDATE SET
      input_tokens = GREATEST(model_steps.input_tokens, EXCLUDED.input_tokens),
      output_tokens = GREATEST(model_steps.output_tokens, EXCLUDED.output_tokens),
      cache_read_tokens = GREATEST(model_steps.cache_read_tokens, EXCLUDED.cache_read_tokens),
      cache_write_tokens = GREATEST(model_steps.cache_write_tokens, EXCLUDED.cache_write_tokens),
      reasoning_tokens = GREATEST(model_steps.reasoning_tokens, EXCLUDED.reasoning_tokens)`;

const UPSERT_STEPS = (from: string) => `
  steps AS (
    INSERT INTO model_steps (chat_id, step_key, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, updated_at)
    SELECT chat_id, step_key, max(input_tokens), max(output_tokens), max(cache_read_tokens), max(cache_write_tokens), max(reasoning_tokens), $2::timestamptz
      FROM (${from}) usage GROUP BY chat_id, step_key
    ${KEEP_LARGEST_USAGE}, updated_at = $2::timestamptz)`;

// Starts: a retried tool call id is left to the general path (ON CONFLICT DO NOTHING), as is an
// item whose chat does not exist (the join with the locked chats drops it).
const START_SQL = `
WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${START_INPUT})),
  locked AS (SELECT id, event_seq, next_turn, current_session_id FROM chats WHERE id IN (SELECT chat_id FROM input) ORDER BY id FOR UPDATE),
  inserted AS (
    INSERT INTO tool_traces (id, chat_id, session_id, message_id, tool_call_id, turn_number, tool_name, tool_input, started_at,
                             started_at_from_client, start_hash, created_at, owner_run_id, agent_id, agent_type, scrubbed_count)
    SELECT i.id, i.chat_id, COALESCE(i.session_id, l.current_session_id), i.message_id, i.tool_call_id, COALESCE(i.turn_number, l.next_turn),
           i.tool_name, i.tool_input, i.started_at, i.started_at_from_client, i.start_hash, i.created_at, i.owner_run_id, i.agent_id, i.agent_type,
           i.scrubbed_count
      FROM input i JOIN locked l ON l.id = i.chat_id
     ORDER BY i.idx
    ON CONFLICT (chat_id, tool_call_id) DO NOTHING
    RETURNING *),
  numbered AS (
    SELECT ins.id, ins.chat_id, i.idx, (l.event_seq + row_number() OVER (PARTITION BY ins.chat_id ORDER BY i.idx))::int AS last_seq
      FROM inserted ins JOIN input i ON i.id = ins.id JOIN locked l ON l.id = ins.chat_id),
  events AS (
    INSERT INTO chat_events (chat_id, seq, kind, subject_id, created_at)
    SELECT chat_id, last_seq, 'trace_started'::"ChatEventKind", id, $2::timestamptz FROM numbered),
  ${BUMP_CHATS}
SELECT ${columnsOf("ins")}, n.idx, n.last_seq AS seq, NULL::int AS seq2 FROM inserted ins JOIN numbered n ON n.id = ins.id`;

// Finishes: the trace is found by id, or by chat and tool call id; the chats are locked before the
// update, whose WHERE re-reads the row's latest version (so a finish that committed while this one
// waited for the lock is seen, and this one is left to the general path as a replay or a conflict).
const FINISH_SQL = `
WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(idx int, trace_id uuid, chat_id uuid, tool_call_id text,
                 finished_at timestamptz, latency_ms int, scrubbed_count int, ${FINISH_COLUMNS})),
  target AS (
    SELECT i.idx, t.id, t.chat_id FROM input i JOIN tool_traces t ON t.id = i.trace_id
    UNION ALL
    SELECT i.idx, t.id, t.chat_id FROM input i JOIN tool_traces t ON t.chat_id = i.chat_id AND t.tool_call_id = i.tool_call_id WHERE i.trace_id IS NULL),
  locked AS (SELECT id, event_seq FROM chats WHERE id IN (SELECT chat_id FROM target) ORDER BY id FOR UPDATE),
  source AS (
    SELECT i.*, g.id AS target_id,
           COALESCE(i.finished_at, s.started_at + i.latency_ms * interval '1 millisecond', $2::timestamptz) AS finish_at
      FROM input i JOIN target g ON g.idx = i.idx JOIN locked l ON l.id = g.chat_id JOIN tool_traces s ON s.id = g.id),
  finished AS (
    UPDATE tool_traces t SET
      finished_at = f.finish_at,
      latency_ms = COALESCE(f.latency_ms, LEAST(2147483647, GREATEST(0, round(extract(epoch FROM f.finish_at - t.started_at) * 1000)))::int),
      status = f.status::"TraceStatus", tool_output = f.tool_output, output_bytes = f.output_bytes, output_hash = f.output_hash,
      error = f.error, outcome = f.outcome, finish_hash = f.finish_hash,
      input_tokens = f.input_tokens, output_tokens = f.output_tokens, cache_read_tokens = f.cache_read_tokens,
      cache_write_tokens = f.cache_write_tokens, reasoning_tokens = f.reasoning_tokens,
      -- The secrets scrubbed from a finish add to those of its start.
      scrubbed_count = t.scrubbed_count + f.scrubbed_count
      FROM source f
     WHERE t.id = f.target_id AND t.finish_hash IS NULL
       AND NOT (t.started_at_from_client AND f.finished_at IS NOT NULL AND f.finished_at < t.started_at)
       AND f.finish_at <= $3::timestamptz
    RETURNING t.*, f.idx, f.has_tokens),
  numbered AS (
    SELECT fi.id, fi.chat_id, fi.idx, (l.event_seq + row_number() OVER (PARTITION BY fi.chat_id ORDER BY fi.idx))::int AS last_seq
      FROM finished fi JOIN locked l ON l.id = fi.chat_id),
  events AS (
    INSERT INTO chat_events (chat_id, seq, kind, subject_id, created_at)
    SELECT chat_id, last_seq, 'trace_finished'::"ChatEventKind", id, $2::timestamptz FROM numbered),
  ${BUMP_CHATS},
  ${UPSERT_STEPS(`SELECT chat_id, COALESCE(message_id, 'trace:' || id::text) AS step_key, input_tokens, output_tokens, cache_read_tokens,
                         cache_write_tokens, reasoning_tokens FROM finished WHERE has_tokens`)}
SELECT ${columnsOf("fi")}, fi.idx, n.last_seq AS seq, NULL::int AS seq2 FROM finished fi JOIN numbered n ON n.id = fi.id`;

// Recorded traces, all or nothing: no ON CONFLICT and no inner join with the chats, so a retried
// tool call id (unique violation) or an unknown chat (null session, or the foreign key) fails the
// statement, and the caller takes the general path for the whole batch.
const RECORD_SQL = `
WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${START_INPUT}, finished_at timestamptz, latency_ms int, ${FINISH_COLUMNS})),
  locked AS (SELECT id, event_seq, next_turn, current_session_id FROM chats WHERE id IN (SELECT chat_id FROM input) ORDER BY id FOR UPDATE),
  inserted AS (
    INSERT INTO tool_traces (id, chat_id, session_id, message_id, tool_call_id, turn_number, tool_name, tool_input, started_at,
                             started_at_from_client, start_hash, created_at, owner_run_id, agent_id, agent_type, scrubbed_count,
                             finished_at, latency_ms, status, tool_output, output_bytes, output_hash, error, outcome, finish_hash,
                             input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens)
    SELECT i.id, i.chat_id, COALESCE(i.session_id, l.current_session_id), i.message_id, i.tool_call_id, COALESCE(i.turn_number, l.next_turn),
           i.tool_name, i.tool_input, i.started_at, i.started_at_from_client, i.start_hash, i.created_at, i.owner_run_id, i.agent_id, i.agent_type,
           i.scrubbed_count, i.finished_at, i.latency_ms, i.status::"TraceStatus", i.tool_output, i.output_bytes, i.output_hash, i.error, i.outcome, i.finish_hash,
           i.input_tokens, i.output_tokens, i.cache_read_tokens, i.cache_write_tokens, i.reasoning_tokens
      FROM input i LEFT JOIN locked l ON l.id = i.chat_id
     ORDER BY i.idx
    RETURNING *),
  numbered AS (
    SELECT ins.id, ins.chat_id, i.idx,
           (l.event_seq + 2 * row_number() OVER (PARTITION BY ins.chat_id ORDER BY i.idx))::int AS last_seq
      FROM inserted ins JOIN input i ON i.id = ins.id JOIN locked l ON l.id = ins.chat_id),
  events AS (
    INSERT INTO chat_events (chat_id, seq, kind, subject_id, created_at)
    SELECT chat_id, last_seq - 1, 'trace_started'::"ChatEventKind", id, $2::timestamptz FROM numbered
    UNION ALL
    SELECT chat_id, last_seq, 'trace_finished'::"ChatEventKind", id, $2::timestamptz FROM numbered),
  ${BUMP_CHATS},
  ${UPSERT_STEPS(`SELECT i.chat_id, COALESCE(i.message_id, 'trace:' || i.id::text) AS step_key, i.input_tokens, i.output_tokens, i.cache_read_tokens,
                         i.cache_write_tokens, i.reasoning_tokens FROM input i WHERE i.has_tokens`)}
SELECT ins.id::text, ins.chat_id::text, ins.session_id::text, ins.turn_number, n.idx, n.last_seq - 1 AS seq, n.last_seq AS seq2
  FROM inserted ins JOIN numbered n ON n.id = ins.id`;

/** A recorded trace as stored: every column was worked out here but the session and turn the chat fills in. */
function recordedTrace(r: RecordRow, sessionId: string, turnNumber: number): ToolTrace {
  const { tokens, ...row } = r;
  return {
    ...row,
    sessionId,
    turnNumber,
    toolInput: r.toolInput as ToolTrace["toolInput"],
    inputTokens: tokens?.input ?? 0,
    outputTokens: tokens?.output ?? 0,
    cacheReadTokens: tokens?.cacheRead ?? 0,
    cacheWriteTokens: tokens?.cacheWrite ?? 0,
    reasoningTokens: tokens?.reasoning ?? 0,
  };
}

const startJson = (r: StartRow, idx: number) => ({
  idx,
  id: r.id,
  chat_id: r.chatId,
  session_id: r.sessionId,
  message_id: r.messageId,
  tool_call_id: r.toolCallId,
  turn_number: r.turnNumber,
  tool_name: r.toolName,
  tool_input: r.toolInput,
  started_at: r.startedAt.toISOString(),
  started_at_from_client: r.startedAtFromClient,
  start_hash: r.startHash,
  created_at: r.createdAt.toISOString(),
  owner_run_id: r.ownerRunId,
  agent_id: r.agentId,
  agent_type: r.agentType,
  scrubbed_count: r.scrubbedCount,
});

const finishJson = (r: Omit<FinishRow, "traceId" | "chatId" | "toolCallId" | "finishedAt" | "latencyMs">) => ({
  status: r.status,
  tool_output: r.toolOutput,
  output_bytes: r.outputBytes,
  output_hash: r.outputHash,
  error: r.error,
  outcome: r.outcome,
  finish_hash: r.finishHash,
  input_tokens: r.tokens?.input ?? 0,
  output_tokens: r.tokens?.output ?? 0,
  cache_read_tokens: r.tokens?.cacheRead ?? 0,
  cache_write_tokens: r.tokens?.cacheWrite ?? 0,
  reasoning_tokens: r.tokens?.reasoning ?? 0,
  has_tokens: r.tokens !== null,
});

interface Numbered {
  idx: number;
  trace: ToolTrace;
  seq: number;
  seq2: number | null;
}

function collect(rows: Numbered[], kinds: ["trace_started"] | ["trace_finished"] | ["trace_started", "trace_finished"], now: Date): Written {
  const traces = new Map<number, ToolTrace>();
  const events: ChatEventMessage[] = [];
  const at = now.toISOString();
  for (const { idx, trace, seq, seq2 } of rows) {
    traces.set(idx, trace);
    events.push({ chatId: trace.chatId, seq, kind: kinds[0], subjectId: trace.id, at });
    if (kinds[1]) events.push({ chatId: trace.chatId, seq: seq2!, kind: kinds[1], subjectId: trace.id, at });
  }
  // Published per chat in seq order.
  events.sort((a, b) => (a.chatId === b.chatId ? a.seq - b.seq : a.chatId < b.chatId ? -1 : 1));
  return { traces, events };
}

const readBack = (rows: Returned[]): Numbered[] => rows.map((r) => ({ idx: r.idx, trace: toTrace(r), seq: r.seq, seq2: r.seq2 }));

export function createTraceWrites(sql: WriteSql) {
  return {
    /** Inserts the starts it can; the others (retries, unknown chats) are left out of the result. */
    async startAll(rows: readonly StartRow[], now = new Date()): Promise<Written> {
      const input = JSON.stringify(rows.map(startJson));
      return collect(readBack(await sql.query<Returned>(START_SQL, [input, now.toISOString()], "tracedeck_start_traces")), ["trace_started"], now);
    },

    /** Finishes the running traces it can; the others (replays, conflicts, unknown) are left out. */
    async finishAll(rows: readonly FinishRow[], now = new Date()): Promise<Written> {
      const input = JSON.stringify(
        rows.map((r, idx) => ({
          idx,
          trace_id: r.traceId,
          chat_id: r.chatId,
          tool_call_id: r.toolCallId,
          finished_at: r.finishedAt?.toISOString() ?? null,
          latency_ms: r.latencyMs,
          scrubbed_count: r.scrubbedCount,
          ...finishJson(r),
        })),
      );
      const found = await sql.query<Returned>(FINISH_SQL, [input, now.toISOString(), LATEST_INSTANT.toISOString()], "tracedeck_finish_traces");
      return collect(readBack(found), ["trace_finished"], now);
    },

    /** Inserts finished traces all or nothing; NeedsGeneralPath when the batch holds anything unusual. */
    async recordAll(rows: readonly RecordRow[], now = new Date()): Promise<Written> {
      const input = JSON.stringify(
        rows.map((r, idx) => ({ ...startJson(r, idx), finished_at: r.finishedAt.toISOString(), latency_ms: r.latencyMs, ...finishJson(r) })),
      );
      try {
        type Recorded = Pick<Returned, "id" | "chat_id" | "session_id" | "turn_number" | "idx" | "seq" | "seq2">;
        const found = await sql.query<Recorded>(RECORD_SQL, [input, now.toISOString()], "tracedeck_record_traces");
        // Every column but the chat's defaults was worked out here: the rows are built, not read back.
        return collect(
          found.map((r) => ({ idx: r.idx, trace: recordedTrace(rows[r.idx]!, r.session_id, r.turn_number), seq: r.seq, seq2: r.seq2 })),
          ["trace_started", "trace_finished"],
          now,
        );
      } catch (error) {
        if (isItemByItem(error)) throw new NeedsGeneralPath("a retried tool call id, an unknown chat or a chat locked elsewhere", { cause: error });
        throw error;
      }
    },
  };
}

export type TraceWrites = ReturnType<typeof createTraceWrites>;

/**
 * Errors after which a batch's items are written one by one through the general path: integrity or
 * data errors (SQLSTATE classes 22 and 23: one item's content) and lock_not_available (55P03: a
 * chat's row lock held elsewhere past the write pool's lock_timeout, which must not hold up the
 * other chats of the batch).
 */
export function isItemByItem(error: unknown): boolean {
  return isDataConflict(error) || sqlStateOf(error) === "55P03";
}

const sqlStateOf = (e: unknown): unknown =>
  // pg and PGlite give the SQLSTATE as code; Prisma's raw queries wrap the driver adapter's error.
  (e as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } }).meta?.driverAdapterError?.cause?.originalCode ?? (e as { code?: unknown }).code;

/** Integrity or data errors (SQLSTATE classes 22 and 23): the batch's content, not the database. */
export function isDataConflict(error: unknown): boolean {
  const code = sqlStateOf(error);
  return typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code);
}
