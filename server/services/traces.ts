import { createHash, randomUUID } from "node:crypto";
import stringify from "safe-stable-stringify";
import { z } from "zod";
import { Prisma, type ToolTrace } from "../db/generated/prisma/client.js";
import type { TraceStatus } from "../db/generated/prisma/enums.js";
import { ConflictError, type FieldIssue, NotFoundError, TracedeckError, ValidationError } from "../errors.js";
import type { ServiceDeps } from "./deps.js";
import { type ChatWrite, type LockedChat, writeChats } from "./chat-writes.js";
import { publishChatEvents } from "../events/pubsub.js";
import { prismaWriteSql } from "../db/sql-connection.js";
import { createGroupCommit, type Settled } from "./group-commit.js";
import { type FinishRow, KEEP_LARGEST_USAGE, NeedsGeneralPath, type RecordRow, type StartRow, type Written, createTraceWrites, isItemByItem } from "./trace-writes.js";
import { type TokenCounts, isZero, tokensInput } from "./tokens.js";
import { capOutput } from "./truncate.js";
import { EARLIEST_INSTANT, LATEST_INSTANT } from "./dates.js";
import { scrubJsonStrings, scrubText } from "./scrub.js";
import { count, date, type JsonValue, jsonValue, optional, parseInput, storableText, text, uuid } from "./validation.js";

const label = (max: number) => z.string().min(1, "must not be empty").max(max, `must be at most ${max} characters`).transform(storableText);

/**
 * Prisma writes a JSON column whose whole value is a number as a float with 16 significant digits
 * (nested numbers are exact): a 17-digit double would be stored one digit short, and one near the
 * largest double as null. Such a bare number is refused rather than stored as another number.
 */
const storableBareNumber = (v: unknown) => typeof v !== "number" || Number(v.toPrecision(16)) === v;
const BARE_NUMBER_TOO_PRECISE = "is a bare number with more than 16 significant digits, which cannot be stored exactly; put it in an object or a list";

function startShape(toolInputMaxBytes: number) {
  return {
    chatId: uuid,
    sessionId: optional(uuid),
    messageId: optional(label(512)),
    toolCallId: optional(label(512)),
    turnNumber: optional(count.min(1, "must be at least 1")),
    toolName: label(256),
    toolInput: jsonValue("toolInput", toolInputMaxBytes)
      .optional()
      .transform((v) => v ?? {})
      .refine(storableBareNumber, BARE_NUMBER_TOO_PRECISE),
    startedAt: optional(date),
    /** Tracedeck's own agent: the process (agent_runs.id) that runs the call; not part of the API. */
    ownerRunId: optional(uuid),
    /** The subagent that made the call (Claude Code's agent_id, agent_type). */
    agentId: optional(label(256)),
    agentType: optional(label(256)),
  };
}

const finishShape = {
  finishedAt: optional(date),
  latencyMs: optional(count),
  output: optional(text()),
  error: optional(text()),
  outcome: optional(label(256)),
  /** Only the statuses a caller may claim; ok and error are derived from `error`. */
  status: optional(z.enum(["timeout", "cancelled"], "must be timeout or cancelled")),
  tokens: optional(tokensInput),
};

const finishTarget = z.union(
  [z.object({ traceId: uuid }), z.object({ chatId: uuid, toolCallId: label(512) })],
  "give traceId, or chatId with toolCallId",
);

/**
 * Secrets in a start's input replaced (scrub.ts), once, as the input is parsed: every entry point
 * stores, hashes for replays and publishes the scrubbed input. `inputScrubbed` counts them.
 */
const scrubInput =
  (on: boolean) =>
  <D extends { toolInput: unknown }>(d: D): D & { inputScrubbed: number } => {
    if (!on) return { ...d, inputScrubbed: 0 };
    const { value, count: found } = scrubJsonStrings(d.toolInput as JsonValue);
    return { ...d, toolInput: value, inputScrubbed: found };
  };

/** The same for a finish's output and error (before the output is capped: a cut must not split a secret). */
const scrubResult =
  (on: boolean) =>
  <D extends { output?: string; error?: string }>(d: D): D & { resultScrubbed: number } => {
    if (!on) return { ...d, resultScrubbed: 0 };
    const output = d.output === undefined ? undefined : scrubText(d.output);
    const error = d.error === undefined ? undefined : scrubText(d.error);
    return { ...d, output: output?.value, error: error?.value, resultScrubbed: (output?.count ?? 0) + (error?.count ?? 0) };
  };

function schemas(toolInputMaxBytes: number, scrub: boolean) {
  const start = z.object(startShape(toolInputMaxBytes)).transform(scrubInput(scrub));
  const record = z
    .object({ ...startShape(toolInputMaxBytes), ...finishShape })
    .superRefine((v, ctx) => {
      if (v.startedAt && v.finishedAt && v.finishedAt < v.startedAt)
        ctx.addIssue({ code: "custom", path: ["finishedAt"], message: "must not be before startedAt" });
    })
    .transform(scrubInput(scrub))
    .transform(scrubResult(scrub));
  const finish = z.object({ traceId: optional(uuid), chatId: optional(uuid), toolCallId: optional(label(512)), ...finishShape }).transform(scrubResult(scrub));
  return { start, record, finish };
}

type Schemas = ReturnType<typeof schemas>;
export type StartTraceInput = z.input<Schemas["start"]>;
export type FinishTraceInput = z.input<Schemas["finish"]>;
export type RecordTraceInput = z.input<Schemas["record"]>;
type StartData = z.output<Schemas["start"]>;
type RecordData = z.output<Schemas["record"]>;
type FinishData = RecordData | z.output<Schemas["finish"]>;

/** The model step a trace belongs to: its message, or the trace alone when it has none. */
export const stepKeyOf = (trace: Pick<ToolTrace, "messageId" | "id">) => trace.messageId ?? `trace:${trace.id}`;

/**
 * Computed latency: never negative, and saturated at the latency_ms column's 32-bit range (about
 * 24.8 days) so that a trace started long ago can still be finished or swept.
 */
function elapsedMs(from: Date, to: Date): number {
  return Math.min(2_147_483_647, Math.max(0, to.getTime() - from.getTime()));
}

/** A start or finish worked out from the client's latency: storable, like one the client gives. */
function instantFromLatency(ms: number, what: "start" | "finish"): Date {
  if (ms < EARLIEST_INSTANT.getTime() || ms > LATEST_INSTANT.getTime()) {
    const bound = ms < EARLIEST_INSTANT.getTime() ? `before ${EARLIEST_INSTANT.toISOString()}` : `after ${LATEST_INSTANT.toISOString()}`;
    throw new ValidationError([{ path: ["latencyMs"], message: `puts the trace's ${what} ${bound}` }]);
  }
  return new Date(ms);
}

/** A batch's byte budget counts an item by its input's JSON size. */
const approximateBytes = (value: unknown) => (JSON.stringify(value) ?? "").length;

const hash = (value: unknown) => createHash("sha256").update(stringify(value) ?? "null").digest("hex");

/** What the client said at start: a retry with the same tool_call_id must say the same. */
function startHashOf(d: StartData): string {
  return hash({
    sessionId: d.sessionId ?? null,
    messageId: d.messageId ?? null,
    turnNumber: d.turnNumber ?? null,
    toolName: d.toolName,
    toolInput: d.toolInput,
    startedAt: d.startedAt?.toISOString() ?? null,
  });
}

/** What the client said at finish; output by its hash before truncation. */
function finishHashOf(d: FinishData, outputHash: string | null, tokens: TokenCounts | undefined): string {
  return hash({
    finishedAt: d.finishedAt?.toISOString() ?? null,
    latencyMs: d.latencyMs ?? null,
    output: outputHash,
    error: d.error ?? null,
    outcome: d.outcome ?? null,
    status: d.status ?? null,
    tokens: tokens ?? null,
  });
}

export function createTraceService(deps: ServiceDeps) {
  const { prisma, limits } = deps;
  const s = schemas(limits.toolInputMaxBytes, limits.scrubSecrets);
  const writes = createTraceWrites(deps.writeSql ?? prismaWriteSql(prisma));
  const groupOptions = { maxInFlight: deps.writeConcurrency ?? 1, maxItems: 256, maxBytes: 8 * 2 ** 20 };

  /** The row of a new trace, as started; session and turn left null when the chat's defaults apply. */
  function newTraceRow(d: StartData, finish?: FinishData): StartRow {
    // A recorded trace given only its finish starts latency before it, not at the server's now.
    const backdated = !d.startedAt && finish?.finishedAt ? instantFromLatency(finish.finishedAt.getTime() - (finish.latencyMs ?? 0), "start") : undefined;
    return {
      id: randomUUID(),
      chatId: d.chatId,
      sessionId: d.sessionId ?? null,
      messageId: d.messageId ?? null,
      toolCallId: d.toolCallId ?? null,
      turnNumber: d.turnNumber ?? null,
      toolName: d.toolName,
      toolInput: d.toolInput as object,
      startedAt: d.startedAt ?? backdated ?? new Date(),
      startedAtFromClient: d.startedAt !== undefined,
      startHash: startHashOf(d),
      createdAt: new Date(),
      ownerRunId: d.ownerRunId ?? null,
      agentId: d.agentId ?? null,
      agentType: d.agentType ?? null,
      // A recorded trace counts its output's and error's secrets too.
      scrubbedCount: d.inputScrubbed + (finish?.resultScrubbed ?? 0),
    };
  }

  /** The row of a new trace, as started, with the locked chat's defaults. */
  function startColumns(chat: LockedChat, d: StartData, finish?: FinishData) {
    const row = newTraceRow(d, finish);
    return { ...row, toolInput: row.toolInput as object, sessionId: row.sessionId ?? chat.currentSessionId, turnNumber: row.turnNumber ?? chat.nextTurn };
  }

  /** What a finish sets that does not depend on the stored start: output, status, tokens, identity. */
  function finishValues(d: FinishData) {
    const output = d.output === undefined ? undefined : capOutput(d.output, limits.traceOutputCapBytes);
    const tokens = d.tokens && !isZero(d.tokens) ? d.tokens : undefined;
    return {
      status: (d.status ?? (d.error !== undefined ? "error" : "ok")) as TraceStatus,
      toolOutput: output?.text ?? null,
      outputBytes: output?.bytes ?? null,
      outputHash: output?.hash ?? null,
      error: d.error ?? null,
      outcome: d.outcome ?? null,
      finishHash: finishHashOf(d, output?.hash ?? null, tokens),
      tokens: tokens ?? null,
    };
  }

  /** The columns a finish sets, and its identity; throws when the finish precedes a client-given start. */
  function finishColumns(started: { startedAt: Date; startedAtFromClient: boolean }, d: FinishData) {
    const { tokens, ...values } = finishValues(d);
    if (d.finishedAt && started.startedAtFromClient && d.finishedAt < started.startedAt) {
      throw new ValidationError([{ path: ["finishedAt"], message: "must not be before the trace's startedAt" }]);
    }
    // Given only a latency, the finish is that long after the start, so the two agree.
    const finishedAt = d.finishedAt ?? (d.latencyMs !== undefined ? instantFromLatency(started.startedAt.getTime() + d.latencyMs, "finish") : new Date());
    const columns = {
      ...values,
      finishedAt,
      latencyMs: d.latencyMs ?? elapsedMs(started.startedAt, finishedAt),
      inputTokens: tokens?.input ?? 0,
      outputTokens: tokens?.output ?? 0,
      cacheReadTokens: tokens?.cacheRead ?? 0,
      cacheWriteTokens: tokens?.cacheWrite ?? 0,
      reasoningTokens: tokens?.reasoning ?? 0,
    };
    return { columns, tokens: tokens ?? undefined };
  }

  async function insertStart(w: ChatWrite, chat: LockedChat, d: StartData): Promise<ToolTrace> {
    if (d.toolCallId) {
      const existing = await w.tx.toolTrace.findUnique({ where: { chatId_toolCallId: { chatId: d.chatId, toolCallId: d.toolCallId } } });
      if (existing) return sameStart(existing, d);
    }
    const trace = await w.tx.toolTrace.create({ data: startColumns(chat, d) });
    w.events.add(d.chatId, "trace_started", trace.id);
    return trace;
  }

  /** A start retried with the same tool_call_id: the stored row when identical, else a conflict. */
  function sameStart(existing: ToolTrace, d: StartData): ToolTrace {
    if (existing.startHash === startHashOf(d)) return existing;
    throw new ConflictError(`tool call ${d.toolCallId} was already started in this chat with different fields`, "ToolTrace", existing.id);
  }

  /** Finishes a running (or abandoned) trace; an identical replay of a finish changes nothing. */
  async function applyFinish(w: ChatWrite, trace: ToolTrace, d: FinishData): Promise<ToolTrace> {
    const { columns, tokens } = finishColumns(trace, d);
    if (trace.finishHash !== null) {
      if (trace.finishHash === columns.finishHash) return trace;
      throw new ConflictError(`trace ${trace.id} was already finished with a different result`, "ToolTrace", trace.id);
    }
    // The finish's secrets add to the start's.
    const updated = await w.tx.toolTrace.update({ where: { id: trace.id }, data: { ...columns, scrubbedCount: { increment: d.resultScrubbed } } });
    if (tokens) await addStepUsage(w, [{ chatId: trace.chatId, stepKey: stepKeyOf(updated), tokens }]);
    w.events.add(trace.chatId, "trace_finished", trace.id);
    return updated;
  }

  /**
   * A model step's usage is stored once. Calls of one step (one message_id) may each carry the
   * step's usage or only one may: the step keeps the largest count of each kind, never the sum.
   */
  async function addStepUsage(w: ChatWrite, usages: { chatId: string; stepKey: string; tokens: TokenCounts }[]): Promise<void> {
    const byStep = new Map<string, { chatId: string; stepKey: string; tokens: TokenCounts }>();
    for (const u of usages) {
      const key = `${u.chatId}/${u.stepKey}`;
      const seen = byStep.get(key)?.tokens;
      const t = u.tokens;
      byStep.set(key, {
        ...u,
        tokens: seen
          ? {
              input: Math.max(seen.input, t.input),
              output: Math.max(seen.output, t.output),
              cacheRead: Math.max(seen.cacheRead, t.cacheRead),
              cacheWrite: Math.max(seen.cacheWrite, t.cacheWrite),
              reasoning: Math.max(seen.reasoning, t.reasoning),
            }
          : t,
      });
    }
    if (byStep.size === 0) return;
    const values = [...byStep.values()].map(
      ({ chatId, stepKey, tokens: t }) =>
        Prisma.sql`(${chatId}::uuid, ${stepKey}, ${t.input}, ${t.output}, ${t.cacheRead}, ${t.cacheWrite}, ${t.reasoning}, now())`,
    );
    await w.tx.$executeRaw`
      INSERT INTO model_steps (chat_id, step_key, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, updated_at)
      VALUES ${Prisma.join(values)}
      ${Prisma.raw(KEEP_LARGEST_USAGE)}, updated_at = now()`;
  }

  /**
   * Records finished traces in one transaction: new ones with one multi-row insert, retried tool
   * calls (a tool_call_id already stored) one by one, as replays or conflicts. Events keep item order.
   */
  async function recordMany(w: ChatWrite, items: RecordData[], onItem: (index: number) => void = () => {}): Promise<ToolTrace[]> {
    const keyed = items.filter((d) => d.toolCallId);
    const stored = new Map<string, ToolTrace>();
    if (keyed.length > 0) {
      const found = await w.tx.toolTrace.findMany({
        where: { OR: keyed.map((d) => ({ chatId: d.chatId, toolCallId: d.toolCallId })) },
      });
      for (const trace of found) stored.set(`${trace.chatId}/${trace.toolCallId}`, trace);
    }
    const results: (ToolTrace | undefined)[] = [];
    const rows: (ReturnType<typeof startColumns> & ReturnType<typeof finishColumns>["columns"])[] = [];
    const usages: { chatId: string; stepKey: string; tokens: TokenCounts }[] = [];
    for (let i = 0; i < items.length; i++) {
      onItem(i);
      const d = items[i]!;
      const existing = d.toolCallId ? stored.get(`${d.chatId}/${d.toolCallId}`) : undefined;
      if (existing) {
        results.push(await applyFinish(w, sameStart(existing, d), d));
        continue;
      }
      const start = startColumns(w.chats.get(d.chatId)!, d, d);
      const { columns, tokens } = finishColumns(start, d);
      rows.push({ ...start, ...columns });
      if (tokens) usages.push({ chatId: d.chatId, stepKey: stepKeyOf({ messageId: d.messageId ?? null, id: start.id }), tokens });
      w.events.add(d.chatId, "trace_started", start.id);
      w.events.add(d.chatId, "trace_finished", start.id);
      results.push(undefined);
    }
    // The rows hold every column, so they are returned as written rather than read back.
    if (rows.length) await w.tx.toolTrace.createMany({ data: rows });
    await addStepUsage(w, usages);
    let next = 0;
    return results.map((r) => r ?? (rows[next++]! as ToolTrace));
  }

  /**
   * The trace a finish names. Given traceId, a chatId or toolCallId given too must be that trace's:
   * a trace's chat and call id never change, so a contradiction is a mistake in the input (a
   * ValidationError naming the field, as no retry could succeed), not a conflict with another write.
   */
  async function resolveFinishTarget(input: z.output<Schemas["finish"]>): Promise<{ chatId: string; find: (w: ChatWrite) => Promise<ToolTrace | null> }> {
    const target = parseInput(finishTarget, input);
    if ("traceId" in target) {
      const found = await prisma.toolTrace.findUnique({ where: { id: target.traceId }, select: { chatId: true, toolCallId: true } });
      if (!found) throw new NotFoundError("ToolTrace", target.traceId);
      const issues: FieldIssue[] = [];
      if (input.chatId !== undefined && input.chatId !== found.chatId)
        issues.push({ path: ["chatId"], message: `does not match traceId: trace ${target.traceId} belongs to chat ${found.chatId}` });
      if (input.toolCallId !== undefined && input.toolCallId !== found.toolCallId)
        issues.push({ path: ["toolCallId"], message: `does not match traceId: trace ${target.traceId} ${found.toolCallId === null ? "has no tool call id" : "has another tool call id"}` });
      if (issues.length) throw new ValidationError(issues);
      return { chatId: found.chatId, find: (w) => w.tx.toolTrace.findUnique({ where: { id: target.traceId } }) };
    }
    const key = { chatId: target.chatId, toolCallId: target.toolCallId };
    return { chatId: target.chatId, find: (w) => w.tx.toolTrace.findUnique({ where: { chatId_toolCallId: key } }) };
  }

  /**
   * After a hot statement's commit: its rows to whoever keeps them for live frames, then its events.
   * The rows are committed whatever happens here: a failure is logged, never answered as the write's.
   */
  function announce(written: Written): void {
    try {
      if (deps.onTracesCommitted && written.events.length > 0) {
        const byId = new Map([...written.traces.values()].map((t) => [t.id, t]));
        deps.onTracesCommitted(written.events.map((e) => ({ trace: byId.get(e.subjectId)!, seq: e.seq })));
      }
    } catch (error) {
      deps.log.error("traces.committed_rows_not_handed_over", { error });
    }
    try {
      publishChatEvents(deps.bus, written.events);
    } catch (error) {
      deps.log.error("traces.publish_failed", { error, events: written.events.length });
    }
  }

  /**
   * Commits a batch by the one-statement path, publishes its events, then runs each item it left
   * unwritten (a retried call id, an unknown chat or trace, a finish before its start) through the
   * general path, which answers it with its replayed row or its typed error. A statement failed by
   * one item's value (SQLSTATE 22, 23), or by a chat's lock held elsewhere past the lock timeout
   * (55P03), sends every item down the general path, so it fails or waits alone.
   */
  async function commitGroup<D>(items: D[], fast: () => Promise<Written>, general: (item: D) => Promise<ToolTrace>): Promise<(Settled<ToolTrace> | Promise<Settled<ToolTrace>>)[]> {
    let written: Written = { traces: new Map(), events: [] };
    try {
      written = await fast();
    } catch (error) {
      if (!isItemByItem(error)) throw error;
      deps.log.warn("traces.batch_statement_refused", { items: items.length, error: error instanceof Error ? error.message : String(error) });
    }
    announce(written);
    // Items left unwritten go on alone, each answered when its own general path is done.
    return items.map((item, i): Settled<ToolTrace> | Promise<Settled<ToolTrace>> => {
      const trace = written.traces.get(i);
      if (trace) return { ok: true, value: trace };
      return general(item).then(
        (value) => ({ ok: true, value }),
        (error: unknown) => ({ ok: false, error }),
      );
    });
  }

  const startOne = (d: StartData) => writeChats(deps, [d.chatId], (w) => insertStart(w, w.chats.get(d.chatId)!, d));
  const starts = createGroupCommit<StartData, ToolTrace>((items) => {
    const rows = items.map((d) => newTraceRow(d));
    return commitGroup(items, () => writes.startAll(rows), startOne);
  }, groupOptions);

  async function finishOne(d: FinishData & z.output<Schemas["finish"]>): Promise<ToolTrace> {
    const target = await resolveFinishTarget(d);
    return writeChats(deps, [target.chatId], async (w) => {
      const trace = await target.find(w);
      if (!trace) throw new NotFoundError("ToolTrace", d.traceId ?? `${d.chatId}/${d.toolCallId}`);
      return applyFinish(w, trace, d);
    });
  }
  const finishes = createGroupCommit<{ d: z.output<Schemas["finish"]>; row: FinishRow }, ToolTrace>(
    (items) => commitGroup(items, () => writes.finishAll(items.map((x) => x.row)), (x) => finishOne(x.d)),
    groupOptions,
  );

  /** A recorded trace's row, every column worked out here but the chat's defaults. */
  function recordRow(d: RecordData): RecordRow {
    const start = newTraceRow(d, d);
    const { columns, tokens } = finishColumns(start, d);
    return { ...start, ...columns, tokens: tokens ?? null };
  }

  /** Recorded traces by the one-statement path; null when the batch needs the general path. */
  async function recordFast(rows: RecordRow[]): Promise<ToolTrace[] | null> {
    try {
      const written = await writes.recordAll(rows);
      announce(written);
      return rows.map((_, i) => written.traces.get(i)!);
    } catch (error) {
      if (error instanceof NeedsGeneralPath) return null;
      throw error;
    }
  }

  return {
    async get(id: string): Promise<ToolTrace> {
      parseInput(z.object({ id: uuid }), { id });
      const trace = await prisma.toolTrace.findUnique({ where: { id } });
      if (!trace) throw new NotFoundError("ToolTrace", id);
      return trace;
    },

    /** How many traces a turn of the chat has. */
    async countInTurn(chatId: string, turnNumber: number): Promise<number> {
      return prisma.toolTrace.count({ where: { chatId, turnNumber } });
    },

    /** Starts a trace (status running). The same tool_call_id again returns the stored row when identical. */
    async start(input: StartTraceInput): Promise<ToolTrace> {
      const d = parseInput(s.start, input);
      return starts.submit(d, approximateBytes(d.toolInput));
    },

    /** Finishes a trace by id, or by chat and tool_call_id. */
    async finish(input: FinishTraceInput): Promise<ToolTrace> {
      const d = parseInput(s.finish, input);
      const target = parseInput(finishTarget, d);
      // A traceId with a chatId or toolCallId beside it is checked against the stored trace first.
      if ("traceId" in target && (d.chatId !== undefined || d.toolCallId !== undefined)) return finishOne(d);
      const { tokens, ...values } = finishValues(d);
      const row: FinishRow = {
        traceId: "traceId" in target ? target.traceId : null,
        chatId: "traceId" in target ? null : target.chatId,
        toolCallId: "traceId" in target ? null : target.toolCallId,
        finishedAt: d.finishedAt ?? null,
        latencyMs: d.latencyMs ?? null,
        ...values,
        tokens,
        scrubbedCount: d.resultScrubbed,
      };
      return finishes.submit({ d, row }, (d.output?.length ?? 0) + (d.error?.length ?? 0));
    },

    /** Records a finished trace in one call: two events, trace_started then trace_finished. */
    async record(input: RecordTraceInput): Promise<ToolTrace> {
      const d = parseInput(s.record, input);
      const fast = await recordFast([recordRow(d)]);
      return fast ? fast[0]! : writeChats(deps, [d.chatId], async (w) => (await recordMany(w, [d]))[0]!);
    },

    /**
     * Records finished traces, possibly across chats, all or nothing. The error of a bad item
     * names it (items.N...).
     */
    async recordBatch(items: readonly RecordTraceInput[]): Promise<ToolTrace[]> {
      if (!Array.isArray(items)) throw new ValidationError([{ path: ["items"], message: "must be a list" }]);
      if (items.length === 0) return [];
      if (items.length > limits.maxBatchItems)
        throw new ValidationError([{ path: ["items"], message: `holds ${items.length} items; the limit is ${limits.maxBatchItems}` }]);
      const parsed = items.map((item, i) => {
        try {
          return parseInput(s.record, item);
        } catch (error) {
          throw error instanceof ValidationError ? error.prefixed(["items", i]) : error;
        }
      });
      const seen = new Map<string, number>();
      parsed.forEach((d, i) => {
        if (!d.toolCallId) return;
        const key = `${d.chatId}/${d.toolCallId}`;
        const first = seen.get(key);
        if (first !== undefined)
          throw new ValidationError([{ path: ["items", i, "toolCallId"], message: `repeats the tool call of items.${first}` }]);
        seen.set(key, i);
      });
      let index = 0;
      try {
        const rows = parsed.map((d, i) => ((index = i), recordRow(d)));
        const fast = await recordFast(rows);
        if (fast) return fast;
        return await writeChats(deps, parsed.map((d) => d.chatId), (w) => recordMany(w, parsed, (i) => (index = i)));
      } catch (error) {
        if (error instanceof ValidationError) throw error.prefixed(["items", index]);
        if (error instanceof NotFoundError && error.entity === "Chat") {
          const i = parsed.findIndex((d) => d.chatId === error.id);
          throw new NotFoundError("Chat", error.id, `items.${i}.chatId: Chat ${error.id} was not found`);
        }
        if (error instanceof TracedeckError) error.message = `items.${index}: ${error.message}`;
        throw error;
      }
    },

    /**
     * Usage learnt after the calls (from a transcript): each step's tokens stored once (the largest
     * count of each kind, as for any step), and the chat's traces that step asked for, by tool call
     * id, joined to it when they have no step yet. One chat_updated event when anything was given.
     */
    async attachStepUsage(chatId: string, steps: readonly { stepKey: string; tokens: TokenCounts; toolCallIds: readonly string[] }[]): Promise<{ linkedTraces: number }> {
      const d = parseInput(
        z.object({
          chatId: uuid,
          steps: z.array(z.object({ stepKey: label(512), tokens: tokensInput, toolCallIds: z.array(label(512)).max(1000) })).max(100_000),
        }),
        { chatId, steps },
      );
      if (d.steps.length === 0) return { linkedTraces: 0 };
      return writeChats(deps, [d.chatId], async (w) => {
        let linkedTraces = 0;
        for (const step of d.steps) {
          if (step.toolCallIds.length === 0) continue;
          const linked = await w.tx.toolTrace.updateMany({
            where: { chatId: d.chatId, toolCallId: { in: step.toolCallIds }, messageId: null },
            data: { messageId: step.stepKey },
          });
          linkedTraces += linked.count;
        }
        await addStepUsage(w, d.steps.map((step) => ({ chatId: d.chatId, stepKey: step.stepKey, tokens: step.tokens })));
        w.events.add(d.chatId, "chat_updated", d.chatId);
        return { linkedTraces };
      });
    },

    /**
     * Marks traces left running longer than maxAgeMs as abandoned: at start-up and periodically.
     * Younger running traces may belong to another process or an external agent and are left alone.
     */
    async sweepAbandoned(maxAgeMs: number, now = new Date()): Promise<number> {
      const cutoff = new Date(now.getTime() - maxAgeMs);
      const stale = await prisma.toolTrace.findMany({
        // The agent's own traces end with their process (agent-turns.abandonRuns), however long they run.
        where: { status: "running", startedAt: { lt: cutoff }, ownerRunId: null },
        select: { id: true, chatId: true },
        take: 5000,
      });
      const byChat = new Map<string, typeof stale>();
      for (const t of stale) byChat.set(t.chatId, [...(byChat.get(t.chatId) ?? []), t]);
      let swept = 0;
      for (const [chatId, traces] of byChat) {
        swept += await writeChats(deps, [chatId], async (w) => {
          let n = 0;
          for (const { id } of traces) {
            const trace = await w.tx.toolTrace.findUnique({ where: { id } });
            if (trace?.status !== "running") continue; // finished meanwhile
            await w.tx.toolTrace.update({
              where: { id },
              data: { status: "abandoned", finishedAt: now, latencyMs: elapsedMs(trace.startedAt, now) },
            });
            w.events.add(chatId, "trace_finished", id);
            n++;
          }
          return n;
        }).catch((error: unknown) => {
          if (error instanceof NotFoundError) return 0; // the chat was deleted meanwhile
          throw error;
        });
      }
      if (swept) deps.log.info("traces.swept_abandoned", { swept, cutoff: cutoff.toISOString() });
      return swept;
    },
  };
}

export type TraceService = ReturnType<typeof createTraceService>;
