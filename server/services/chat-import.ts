/**
 * The writes of `npm run import -- tracedeck` (server/ingest/tracedeck/): a chat exported as JSON
 * Lines, written back with its own ids in one transaction, so a failure at any record leaves
 * nothing of the chat. The event log is not in the file: it is rebuilt from the rows, numbered
 * from 1 in time order with the kinds the live writes append, and published after the commit.
 *
 * The records come validated from the reader; they are read from the file inside the transaction,
 * a batch at a time, so a chat of any size is never held in memory whole. On PGlite the import
 * holds the one connection meanwhile, which is why the CLI runs it with the server stopped.
 */
import { Prisma } from "../db/generated/prisma/client.js";
import { ConflictError, ValidationError } from "../errors.js";
import { publishChatEvents } from "../events/pubsub.js";
import type {
  AgentMessageRecord,
  AgentTurnRecord,
  ChatRecord,
  ContentRecord,
  ExportCounts,
  ModelStepRecord,
  SnapshotHeadRecord,
  SnapshotRevisionRecord,
  TraceRecord,
} from "../ingest/tracedeck/format.js";
import type { Tx } from "./chat-writes.js";
import type { ServiceDeps } from "./deps.js";

export interface ImportedChat {
  chatId: string;
  counts: ExportCounts;
  /** Events rebuilt: the chat's event seq after the import. */
  events: number;
}

/**
 * A unique key already taken: Prisma's P2002 for its own writes; for a raw statement, the driver
 * adapter's UniqueConstraintViolation or PostgreSQL's 23505 under Prisma's P2010.
 */
function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; meta?: { code?: unknown; driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } } } | null;
  const cause = e?.meta?.driverAdapterError?.cause;
  return e?.code === "P2002" || e?.meta?.code === "23505" || cause?.kind === "UniqueConstraintViolation" || cause?.originalCode === "23505";
}
const date = (iso: string) => new Date(iso);
const dateOrNull = (iso: string | null) => (iso === null ? null : new Date(iso));
/** A JSON column's value: JSON's null must be said so to Prisma. */
const tokenColumns = (t: TraceRecord["tokens"]) => ({
  inputTokens: t.input,
  outputTokens: t.output,
  cacheReadTokens: t.cacheRead,
  cacheWriteTokens: t.cacheWrite,
  reasoningTokens: t.reasoning,
});

/** Rows per multi-row INSERT, and the JSON bytes after which a batch goes sooner. */
const BATCH = { rows: 500, bytes: 4 * 2 ** 20 };

/** One table's rows, inserted a batch at a time; a unique key already taken is said plainly. */
class Batch<R> {
  private rows: R[] = [];
  private bytes = 0;
  constructor(
    private readonly what: string,
    private readonly insert: (rows: R[]) => Promise<unknown>,
    private readonly sizeOf: (row: R) => number = () => 0,
  ) {}

  async add(row: R): Promise<void> {
    this.rows.push(row);
    this.bytes += this.sizeOf(row);
    if (this.rows.length >= BATCH.rows || this.bytes >= BATCH.bytes) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.rows.length === 0) return;
    const rows = this.rows;
    this.rows = [];
    this.bytes = 0;
    try {
      await this.insert(rows);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`${this.what} of this chat already exist in the database, under another chat: ids must be unique`);
      throw error;
    }
  }
}

type RevisionMeta = Pick<SnapshotRevisionRecord, "id" | "turn" | "createdAt" | "supersededAt" | "restoredFrom">;

/**
 * The restores the revisions record. A revision with restoredFrom N was saved after a restore to
 * turn N (a later one before the save overwrote an earlier's mark: one per save is known); a chat
 * with continuedFromTurn N was restored to N after its last save. A restore's time is when it
 * superseded revisions (their supersededAt), else the head's update or the next save.
 */
export function restoresOf(chat: ChatRecord, revisions: RevisionMeta[], head: SnapshotHeadRecord | null): { at: string; subject: string }[] {
  const byTurn = new Map(revisions.map((r) => [r.turn, r]));
  const saved = [...revisions].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.turn - b.turn));
  const supersedes = revisions.flatMap((r) => r.supersededAt ?? []).sort();
  const latestIn = (from: string, to: string | null) => supersedes.filter((s) => s > from && (to === null || s <= to)).at(-1);
  const restores: { at: string; subject: string }[] = [];
  saved.forEach((revision, i) => {
    const target = revision.restoredFrom === null ? undefined : byTurn.get(revision.restoredFrom);
    if (!target) return;
    const previous = saved[i - 1]?.createdAt ?? chat.createdAt;
    restores.push({ at: latestIn(previous, revision.createdAt) ?? revision.createdAt, subject: target.id });
  });
  const target = chat.continuedFromTurn === null ? undefined : byTurn.get(chat.continuedFromTurn);
  if (target) {
    const last = saved.at(-1)?.createdAt ?? chat.createdAt;
    const headAt = head?.currentRevisionId === target.id && head.updatedAt >= last ? head.updatedAt : undefined;
    restores.push({ at: headAt ?? latestIn(last, null) ?? last, subject: target.id });
  }
  return restores;
}

/**
 * The chat's event log from its rows, numbered from 1: chat_created first, then by time (the
 * moment each write committed, as the rows keep it) and, at one instant, in the order the live
 * writes append them. Running traces and turns have no finish event yet. Of the chat_updated
 * events only the agent settings' last change is known (renames and usage attached later are not).
 */
async function rebuildEvents(tx: Tx, chatId: string, restores: { at: string; subject: string }[]): Promise<number> {
  return tx.$executeRaw`
    INSERT INTO chat_events (chat_id, seq, kind, subject_id, created_at)
    SELECT ${chatId}::uuid, (row_number() OVER (ORDER BY e.first DESC, e.at, e.phase, e.subject))::int, e.kind::"ChatEventKind", e.subject, e.at
      FROM (
        SELECT c.created_at AS at, 0 AS phase, true AS first, 'chat_created' AS kind, c.id AS subject FROM chats c WHERE c.id = ${chatId}::uuid
        UNION ALL
        SELECT s.updated_at, 1, false, 'chat_updated', s.chat_id FROM agent_settings s WHERE s.chat_id = ${chatId}::uuid
        UNION ALL
        SELECT a.started_at, 1, false, 'turn_started', a.id FROM agent_turns a WHERE a.chat_id = ${chatId}::uuid
        UNION ALL
        SELECT t.created_at, 2, false, 'trace_started', t.id FROM tool_traces t WHERE t.chat_id = ${chatId}::uuid
        UNION ALL
        SELECT greatest(coalesce(t.finished_at, t.created_at), t.created_at), 3, false, 'trace_finished', t.id
          FROM tool_traces t WHERE t.chat_id = ${chatId}::uuid AND t.status <> 'running'
        UNION ALL
        SELECT m.created_at, 3, false, CASE m.kind WHEN 'assistant' THEN 'assistant_message' ELSE 'agent_error' END, m.id
          FROM agent_messages m WHERE m.chat_id = ${chatId}::uuid
        UNION ALL
        SELECT r.at, 4, false, 'snapshot_restored', r.subject FROM jsonb_to_recordset(${JSON.stringify(restores)}::jsonb) AS r(at timestamptz, subject uuid)
        UNION ALL
        SELECT v.created_at, 5, false, 'snapshot_saved', v.id FROM agent_snapshot_revisions v WHERE v.chat_id = ${chatId}::uuid
        UNION ALL
        SELECT greatest(coalesce(a.finished_at, a.started_at), a.started_at), 6, false, 'turn_finished', a.id
          FROM agent_turns a WHERE a.chat_id = ${chatId}::uuid AND a.status <> 'running'
      ) e`;
}

/** The rebuilt events, published after the commit a page at a time, as every service publishes. */
async function publishRebuilt(deps: ServiceDeps, chatId: string): Promise<void> {
  let after = 0;
  for (;;) {
    const page = await deps.prisma.chatEvent.findMany({ where: { chatId, seq: { gt: after } }, orderBy: { seq: "asc" }, take: 1000 });
    publishChatEvents(
      deps.bus,
      page.map((e) => ({ chatId, seq: e.seq, kind: e.kind, subjectId: e.subjectId, at: e.createdAt.toISOString() })),
    );
    if (page.length < 1000) return;
    after = page.at(-1)!.seq;
  }
}

export function createChatImportService(deps: ServiceDeps) {
  return {
    /**
     * Writes an exported chat: `records` are the export's content records, validated, the chat's
     * first. A chat with that id already stored is a ConflictError (the caller tells "already
     * there" from "different" first); so is any id of the file another chat holds. All or nothing.
     */
    async importChat(records: AsyncIterable<ContentRecord>, options: { timeoutMs?: number } = {}): Promise<ImportedChat> {
      const imported = await deps.prisma.$transaction(
        async (tx) => {
          const iterator = records[Symbol.asyncIterator]();
          const first = await iterator.next();
          if (first.done || first.value.type !== "chat") throw new ValidationError([{ path: [], message: "an exported chat starts with its chat record" }]);
          const chat = first.value;
          const chatId = chat.id;
          try {
            await tx.chat.create({
              data: {
                id: chatId,
                title: chat.title,
                workspace: chat.workspace,
                createdAt: date(chat.createdAt),
                lastActivityAt: date(chat.lastActivityAt),
                currentSessionId: chat.currentSessionId,
                nextTurn: chat.nextTurn,
                continuedFromTurn: chat.continuedFromTurn,
              },
            });
          } catch (error) {
            if (isUniqueViolation(error)) throw new ConflictError(`chat ${chatId} already exists`, "Chat", chatId);
            throw error;
          }
          const counts: ExportCounts = { traces: 0, modelSteps: 0, snapshotRevisions: 0, agentTurns: 0, agentMessages: 0 };
          const revisions: RevisionMeta[] = [];
          let head: SnapshotHeadRecord | null = null;
          const traces = new Batch<TraceRecord>("traces", (rows) => insertTraces(tx, chatId, rows), (r) => (r.toolOutput?.length ?? 0) + JSON.stringify(r.toolInput).length);
          const steps = new Batch<ModelStepRecord>("model steps", (rows) => insertSteps(tx, chatId, rows));
          const turns = new Batch<AgentTurnRecord>("agent turns", (rows) => tx.agentTurn.createMany({ data: rows.map((t) => turnRow(chatId, t)) }), (t) => t.prompt.length);
          const messages = new Batch<AgentMessageRecord>("agent messages", (rows) =>
            tx.agentMessage.createMany({ data: rows.map((m) => ({ id: m.id, chatId, turnNumber: m.turnNumber, kind: m.kind, text: m.text, createdAt: date(m.createdAt) })) }),
            (m) => m.text.length,
          );
          const snapshots = new Batch<SnapshotRevisionRecord>("snapshot revisions", (rows) => tx.agentSnapshotRevision.createMany({ data: rows.map((r) => revisionRow(chatId, r)) }), (r) => r.stateBytes);

          for await (const record of { [Symbol.asyncIterator]: () => iterator }) {
            switch (record.type) {
              case "chat":
                throw new ValidationError([{ path: [], message: "an exported chat has one chat record" }]);
              case "ingest_session":
                try {
                  await tx.ingestSession.create({
                    data: {
                      id: record.id,
                      source: record.source,
                      externalId: record.externalId,
                      chatId,
                      cwd: record.cwd,
                      openPrompt: record.openPrompt,
                      lastPromptId: record.lastPromptId,
                      titledByPrompt: record.titledByPrompt,
                      createdAt: date(record.createdAt),
                      updatedAt: date(record.updatedAt),
                    },
                  });
                } catch (error) {
                  if (isUniqueViolation(error)) throw new ConflictError(`the ${record.source} session ${record.externalId} already reports into another chat of this database`, "IngestSession", record.id);
                  throw error;
                }
                break;
              case "agent_settings":
                await tx.agentSettings.create({
                  data: {
                    chatId,
                    provider: record.provider,
                    model: record.model,
                    workspace: record.workspace,
                    buildCommand: record.buildCommand === null ? Prisma.DbNull : (record.buildCommand as Prisma.InputJsonValue),
                    fixAttempts: record.fixAttempts,
                    updatedAt: date(record.updatedAt),
                  },
                });
                break;
              case "agent_turn":
                counts.agentTurns++;
                await turns.add(record);
                break;
              case "agent_message":
                counts.agentMessages++;
                await messages.add(record);
                break;
              case "model_step":
                counts.modelSteps++;
                await steps.add(record);
                break;
              case "trace":
                counts.traces++;
                await traces.add(record);
                break;
              case "snapshot_revision":
                counts.snapshotRevisions++;
                revisions.push({ id: record.id, turn: record.turn, createdAt: record.createdAt, supersededAt: record.supersededAt, restoredFrom: record.restoredFrom });
                await snapshots.add(record);
                break;
              case "snapshot_head":
                head = record;
                break;
            }
          }
          for (const batch of [turns, messages, steps, traces, snapshots] as Batch<unknown>[]) await batch.flush();
          if (head) {
            await tx.agentSnapshot.create({ data: { chatId, currentRevisionId: head.currentRevisionId, turn: head.turn, updatedAt: date(head.updatedAt) } });
          }
          const events = await rebuildEvents(tx, chatId, restoresOf(chat, revisions, head));
          // The counters (trace_count…) were kept by the triggers as the traces went in.
          await tx.chat.update({ where: { id: chatId }, data: { eventSeq: events } });
          return { chatId, counts, events };
        },
        { maxWait: 30_000, timeout: options.timeoutMs ?? 30 * 60_000 },
      );
      try {
        await publishRebuilt(deps, imported.chatId);
      } catch (error) {
        // Committed: a viewer that missed the publish reads the log on its next idle check.
        deps.log.error("chat_import.publish_failed", { chatId: imported.chatId, error });
      }
      return imported;
    },
  };
}

/**
 * Traces, a batch in one statement: the rows go as one JSON parameter (jsonb_to_recordset), which
 * PostgreSQL parses far faster than Prisma builds a multi-row insert, and which keeps nothing of
 * the batch once it is sent. The chat's counters move by the triggers, as for any insert.
 */
function insertTraces(tx: Tx, chatId: string, rows: TraceRecord[]): Promise<number> {
  const json = JSON.stringify(
    rows.map((r) => ({
      id: r.id,
      session_id: r.sessionId,
      message_id: r.messageId,
      tool_call_id: r.toolCallId,
      turn_number: r.turnNumber,
      tool_name: r.toolName,
      tool_input: r.toolInput,
      tool_output: r.toolOutput,
      output_bytes: r.outputBytes,
      output_hash: r.outputHash,
      started_at: r.startedAt,
      started_at_from_client: r.startedAtFromClient,
      finished_at: r.finishedAt,
      latency_ms: r.latencyMs,
      start_hash: r.startHash,
      finish_hash: r.finishHash,
      status: r.status,
      error: r.error,
      outcome: r.outcome,
      input_tokens: r.tokens.input,
      output_tokens: r.tokens.output,
      cache_read_tokens: r.tokens.cacheRead,
      cache_write_tokens: r.tokens.cacheWrite,
      reasoning_tokens: r.tokens.reasoning,
      created_at: r.createdAt,
      owner_run_id: r.ownerRunId,
      agent_id: r.agentId,
      agent_type: r.agentType,
      scrubbed_count: r.scrubbedCount,
    })),
  );
  return tx.$executeRaw`
    INSERT INTO tool_traces (id, chat_id, session_id, message_id, tool_call_id, turn_number, tool_name, tool_input, tool_output, output_bytes,
                             output_hash, started_at, started_at_from_client, finished_at, latency_ms, start_hash, finish_hash, status, error,
                             outcome, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, created_at,
                             owner_run_id, agent_id, agent_type, scrubbed_count)
    SELECT id, ${chatId}::uuid, session_id, message_id, tool_call_id, turn_number, tool_name, coalesce(tool_input, 'null'::jsonb), tool_output, output_bytes,
           output_hash, started_at, started_at_from_client, finished_at, latency_ms, start_hash, finish_hash, status::"TraceStatus", error,
           outcome, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, created_at,
           owner_run_id, agent_id, agent_type, scrubbed_count
      FROM jsonb_to_recordset(${json}::jsonb) AS x(
        id uuid, session_id uuid, message_id text, tool_call_id text, turn_number int, tool_name text, tool_input jsonb, tool_output text,
        output_bytes int, output_hash text, started_at timestamptz, started_at_from_client boolean, finished_at timestamptz, latency_ms int,
        start_hash text, finish_hash text, status text, error text, outcome text, input_tokens int, output_tokens int, cache_read_tokens int,
        cache_write_tokens int, reasoning_tokens int, created_at timestamptz, owner_run_id uuid, agent_id text, agent_type text, scrubbed_count int)`;
}

function insertSteps(tx: Tx, chatId: string, rows: ModelStepRecord[]): Promise<number> {
  const json = JSON.stringify(rows.map((s) => ({ step_key: s.stepKey, ...s.tokens, updated_at: s.updatedAt })));
  return tx.$executeRaw`
    INSERT INTO model_steps (chat_id, step_key, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, updated_at)
    SELECT ${chatId}::uuid, step_key, input, output, "cacheRead", "cacheWrite", reasoning, updated_at
      FROM jsonb_to_recordset(${json}::jsonb) AS x(step_key text, input int, output int, "cacheRead" int, "cacheWrite" int, reasoning int, updated_at timestamptz)`;
}

function turnRow(chatId: string, t: AgentTurnRecord): Prisma.AgentTurnCreateManyInput {
  return {
    id: t.id,
    chatId,
    turnNumber: t.turnNumber,
    trigger: t.trigger,
    prompt: t.prompt,
    status: t.status,
    outcome: t.outcome,
    error: t.error,
    fixAttempt: t.fixAttempt,
    fixFollows: t.fixFollows,
    steps: t.steps,
    ...tokenColumns(t.tokens),
    provider: t.provider,
    model: t.model,
    ownerRunId: t.ownerRunId,
    startedAt: date(t.startedAt),
    finishedAt: dateOrNull(t.finishedAt),
  };
}

function revisionRow(chatId: string, r: SnapshotRevisionRecord): Prisma.AgentSnapshotRevisionCreateManyInput {
  return {
    id: r.id,
    chatId,
    turn: r.turn,
    sessionId: r.sessionId,
    state: r.state as Prisma.InputJsonValue,
    stateBytes: r.stateBytes,
    createdAt: date(r.createdAt),
    supersededAt: dateOrNull(r.supersededAt),
    restoredFrom: r.restoredFrom,
  };
}

export type ChatImportService = ReturnType<typeof createChatImportService>;
