import type { ChatEventKind } from "../db/generated/prisma/enums.js";
import { Prisma } from "../db/generated/prisma/client.js";
import type { ChatEventMessage } from "../events/topics.js";
import { publishChatEvents } from "../events/pubsub.js";
import { NotFoundError } from "../errors.js";
import type { ServiceDeps } from "./deps.js";

export type Tx = Prisma.TransactionClient;

export interface LockedChat {
  id: string;
  eventSeq: number;
  nextTurn: number;
  currentSessionId: string;
  continuedFromTurn: number | null;
}

/**
 * Locks chat rows in id order (so writes spanning chats cannot deadlock) and returns them.
 * The lock is what makes seq order equal commit order: a second writer waits here until the
 * first commits, so no reader can see seq 8 before seq 7.
 */
async function lockChats(tx: Tx, chatIds: readonly string[]): Promise<Map<string, LockedChat>> {
  const ids = [...new Set(chatIds)].sort();
  const rows = await tx.$queryRaw<
    { id: string; event_seq: number; next_turn: number; current_session_id: string; continued_from_turn: number | null }[]
  >`SELECT id::text, event_seq, next_turn, current_session_id::text, continued_from_turn
      FROM chats WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR UPDATE`;
  const chats = new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        eventSeq: r.event_seq,
        nextTurn: r.next_turn,
        currentSessionId: r.current_session_id,
        continuedFromTurn: r.continued_from_turn,
      },
    ]),
  );
  for (const id of ids) if (!chats.has(id)) throw new NotFoundError("Chat", id);
  return chats;
}

/** Collects a transaction's events, numbered from the locked chats' counters. */
export class EventLog {
  private readonly drafts: { chatId: string; kind: ChatEventKind; subjectId: string }[] = [];
  constructor(private readonly chats: Map<string, LockedChat>) {}

  add(chatId: string, kind: ChatEventKind, subjectId: string): void {
    if (!this.chats.has(chatId)) throw new Error(`chat ${chatId} was not locked by this transaction`);
    this.drafts.push({ chatId, kind, subjectId });
  }

  /** Writes the events and advances each chat's counter and last activity, in the same transaction. */
  async flush(tx: Tx): Promise<ChatEventMessage[]> {
    const events: ChatEventMessage[] = [];
    const next = new Map<string, number>();
    const now = new Date();
    for (const draft of this.drafts) {
      const seq = (next.get(draft.chatId) ?? this.chats.get(draft.chatId)!.eventSeq) + 1;
      next.set(draft.chatId, seq);
      events.push({ ...draft, seq, at: now.toISOString() });
    }
    if (events.length === 0) return events;
    for (const [chatId, seq] of next) {
      await tx.chat.update({ where: { id: chatId }, data: { eventSeq: seq, lastActivityAt: now } });
    }
    await tx.chatEvent.createMany({ data: events.map(({ at: _at, ...e }) => ({ ...e, createdAt: now })) });
    return events;
  }
}

export interface ChatWrite {
  tx: Tx;
  chats: Map<string, LockedChat>;
  events: EventLog;
}

/**
 * The one way services change a chat: lock its row(s), make the change and its events in one
 * transaction, and publish the events only after the commit.
 */
export async function writeChats<T>(deps: ServiceDeps, chatIds: readonly string[], change: (w: ChatWrite) => Promise<T>): Promise<T> {
  let committed: ChatEventMessage[] = [];
  const result = await deps.prisma.$transaction(async (tx) => {
    const chats = await lockChats(tx, chatIds);
    const events = new EventLog(chats);
    const value = await change({ tx, chats, events });
    committed = await events.flush(tx);
    return value;
  });
  publishChatEvents(deps.bus, committed);
  return result;
}
