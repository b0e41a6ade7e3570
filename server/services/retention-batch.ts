// One retention batch: a short transaction on one chat that deletes up to `size` of its expired
// traces and up to `size` of its expired events, and says so in the chat's log. The chat's row is
// locked FOR UPDATE first, as every ingest write locks it, so a batch and a write to the same chat
// take turns and never deadlock (a batch locks one chat only, and touches no other chat's rows).
import { randomUUID } from "node:crypto";
import { Prisma } from "../db/generated/prisma/client.js";
import type { ChatEventMessage } from "../events/topics.js";
import { EventLog, type LockedChat, type Tx } from "./chat-writes.js";
import { stepKeyOf } from "./traces.js";

export interface BatchResult {
  /** False when the chat no longer exists. */
  found: boolean;
  traces: number;
  steps: number;
  events: number;
  /** The chat itself went: idle for longer than the limit and nothing of it left to prune. */
  chatDeleted: boolean;
  /** Something expired may be left: run another batch. */
  more: boolean;
  /** Publish these after the commit: traces_pruned, or chat_deleted (not stored, like deleteChat's). */
  publish: ChatEventMessage[];
}

interface ChatRow {
  id: string;
  event_seq: number;
  next_turn: number;
  current_session_id: string;
  continued_from_turn: number | null;
  last_activity_at: Date;
  pruned_through_seq: number;
}

const NOTHING: BatchResult = { found: false, traces: 0, steps: 0, events: 0, chatDeleted: false, more: false, publish: [] };

/**
 * Runs inside the caller's transaction. A chat idle for longer than the limit (its last activity
 * before the cutoff) is emptied whatever the age of its rows, then deleted; otherwise only traces
 * started before the cutoff (never a running one: a finish may still come) and the events committed
 * before it, as a prefix of the log, go.
 */
export async function pruneChatBatch(tx: Tx, chatId: string, cutoff: Date, size: number): Promise<BatchResult> {
  const [chat] = await tx.$queryRaw<ChatRow[]>`
    SELECT id::text, event_seq, next_turn, current_session_id::text, continued_from_turn, last_activity_at, pruned_through_seq
      FROM chats WHERE id = ${chatId}::uuid FOR UPDATE`;
  if (!chat) return NOTHING;
  const idle = chat.last_activity_at < cutoff;

  const due = idle ? Prisma.empty : Prisma.sql`AND started_at < ${cutoff} AND status <> 'running'`;
  const traces = await tx.$queryRaw<{ id: string; message_id: string | null }[]>`
    DELETE FROM tool_traces WHERE id IN (
      SELECT id FROM tool_traces WHERE chat_id = ${chatId}::uuid ${due} ORDER BY started_at, id LIMIT ${size})
    RETURNING id::text, message_id`;
  // A model step goes with the last of its traces (the counters move with the rows, by trigger).
  const keys = [...new Set(traces.map((t) => stepKeyOf({ messageId: t.message_id, id: t.id })))];
  const steps =
    keys.length === 0
      ? 0
      : await tx.$executeRaw`
          DELETE FROM model_steps m WHERE m.chat_id = ${chatId}::uuid AND m.step_key = ANY(${keys}::text[])
             AND NOT EXISTS (SELECT 1 FROM tool_traces t WHERE t.chat_id = ${chatId}::uuid AND t.message_id = m.step_key)`;

  // Events go as a prefix of the log, so "the oldest kept event" is one number per chat.
  const head = await tx.$queryRaw<{ seq: number; created_at: Date }[]>`
    SELECT seq, created_at FROM chat_events WHERE chat_id = ${chatId}::uuid AND seq > ${chat.pruned_through_seq} ORDER BY seq LIMIT ${size}`;
  let through = chat.pruned_through_seq;
  for (const event of head) {
    if (!idle && event.created_at >= cutoff) break;
    through = event.seq;
  }
  const events =
    through === chat.pruned_through_seq
      ? 0
      : await tx.$executeRaw`DELETE FROM chat_events WHERE chat_id = ${chatId}::uuid AND seq > ${chat.pruned_through_seq} AND seq <= ${through}`;

  // An idle chat's batch takes every event of the head: a short head was the rest of the log.
  const emptied = idle && traces.length < size && head.length < size;
  if (emptied) {
    // As chats.delete does, under the lock this batch holds: the head points at a revision with
    // ON DELETE RESTRICT, so it goes first; the rest cascades. chat_deleted is published, not stored.
    await tx.agentSnapshot.deleteMany({ where: { chatId } });
    await tx.chat.delete({ where: { id: chatId } });
    await tx.$executeRaw`${addToTotals(traces.length, steps, events, 1)}`;
    const deleted: ChatEventMessage = { chatId, seq: chat.event_seq + 1, kind: "chat_deleted", subjectId: chatId, at: new Date().toISOString() };
    return { found: true, traces: traces.length, steps, events, chatDeleted: true, more: false, publish: [deleted] };
  }

  let publish: ChatEventMessage[] = [];
  let record = Prisma.empty;
  if (traces.length > 0 || steps > 0) {
    const locked: LockedChat = {
      id: chat.id,
      eventSeq: chat.event_seq,
      nextTurn: chat.next_turn,
      currentSessionId: chat.current_session_id,
      continuedFromTurn: chat.continued_from_turn,
    };
    const pruneId = randomUUID();
    const log = new EventLog(new Map([[chatId, locked]]));
    log.add(chatId, "traces_pruned", pruneId);
    publish = await log.flush(tx);
    record = Prisma.sql`, recorded AS (
      INSERT INTO trace_prunes (id, chat_id, cutoff, traces, steps, events, pruned_through_seq, created_at)
      VALUES (${pruneId}::uuid, ${chatId}::uuid, ${cutoff}, ${traces.length}, ${steps}, ${events}, ${through}, ${new Date(publish[0]!.at)}))`;
  }
  if (publish.length > 0 || through !== chat.pruned_through_seq) {
    // One statement: the prune's record, older records (their events are gone too), the report's
    // totals (in this transaction, so they count exactly what committed), and the chat's floor.
    // Pruning is not activity (flush moved last_activity_at): an idle chat must still age out.
    await tx.$executeRaw`
      WITH aged AS (DELETE FROM trace_prunes WHERE chat_id = ${chatId}::uuid AND created_at < ${cutoff}),
           totals AS (${addToTotals(traces.length, steps, events, 0)})
           ${record}
      UPDATE chats SET pruned_through_seq = ${through}, last_activity_at = ${chat.last_activity_at} WHERE id = ${chatId}::uuid`;
  }
  const more = traces.length === size || (head.length === size && through === head.at(-1)!.seq);
  return { found: true, traces: traces.length, steps, events, chatDeleted: false, more, publish };
}

/** The report's totals, moved in the batch's own transaction. */
function addToTotals(traces: number, steps: number, events: number, chats: number): Prisma.Sql {
  return Prisma.sql`
    UPDATE retention_status SET total_traces = total_traces + ${traces}, total_steps = total_steps + ${steps},
           total_events = total_events + ${events}, total_chats = total_chats + ${chats}
     WHERE id = 1`;
}
