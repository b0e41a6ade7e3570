import { Repeater } from "graphql-yoga";
import type { ChatEventKind } from "../db/generated/prisma/enums.js";
import type { PrismaClient } from "../db/generated/prisma/client.js";
import { isDatabaseUnavailable } from "../db/availability.js";
import { NotFoundError } from "../errors.js";
import type { ChatEventRouter } from "./router.js";
import type { ChatEventMessage } from "./topics.js";

export interface StreamOpening {
  type: "opening";
  chatId: string;
  /** The seq the opening was read at: every event after it follows. */
  seq: number;
  snapshotRevisionId: string | null;
}

export interface StreamEvent {
  type: "event";
  event: ChatEventMessage;
}

export interface ChatStreamOptions {
  chatId: string;
  /** Replay every event after this seq; default: the opening's seq (live from now). */
  after?: number;
  /** Send the opening message (the resume stream does; the live-only filters do not). */
  opening: boolean;
  kinds?: readonly ChatEventKind[];
  /**
   * After this long without an event, look in the log anyway. A missing seq is otherwise noticed
   * only when a later event arrives; an event whose publish was lost (a process died between commit
   * and publish, Redis reconnected) would wait for the chat's next write.
   */
  idleCheckMs?: number;
}

const REPLAY_PAGE = 500;
/** A subscriber that falls this far behind drops its queue and catches up from the database. */
const MAX_QUEUE = 10_000;

/**
 * One chat's events, gap-free and without duplicates: listen first, read the opening, replay the
 * log after the cursor, then go live. Live events are checked for continuity; a missing seq (events
 * from several processes can arrive out of order) is re-read from the database before going on.
 */
export function chatEventStream(prisma: PrismaClient, router: ChatEventRouter, options: ChatStreamOptions): Repeater<StreamOpening | StreamEvent> {
  const { chatId } = options;
  const wanted = options.kinds ? new Set(options.kinds) : undefined;

  return new Repeater(async (push, stop) => {
    const queue: ChatEventMessage[] = [];
    let overflowed = false;
    let wake: (() => void) | undefined;
    // One reaction to `stop` for the stream's life: racing it on every wait would add one each time.
    let stopped = false;
    void stop.then(() => {
      stopped = true;
      wake?.();
    });
    const unlisten = router.listen(chatId, (event) => {
      if (queue.length >= MAX_QUEUE) {
        queue.length = 0;
        overflowed = true;
      } else queue.push(event);
      wake?.();
    });

    /** A pause that a stop (or an arriving event) cuts short. */
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    /**
     * A read that waits out a database outage: the subscriber stays connected and, once the database
     * answers again, gets every event from where it was. Any other failure ends the stream.
     */
    const withDatabase = async (read: () => Promise<void>) => {
      for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
        try {
          return await read();
        } catch (error) {
          if (stopped) return;
          if (!isDatabaseUnavailable(error)) throw error;
          await pause(delay);
          if (stopped) return;
        }
      }
    };

    let last = 0;
    let ended = false;
    const emit = async (event: ChatEventMessage) => {
      last = event.seq;
      if (event.kind === "chat_deleted") ended = true;
      if (!wanted || wanted.has(event.kind)) await push({ type: "event", event });
    };
    const catchUp = async () => {
      for (;;) {
        const rows = await prisma.chatEvent.findMany({ where: { chatId, seq: { gt: last } }, orderBy: { seq: "asc" }, take: REPLAY_PAGE });
        for (const row of rows) {
          if (stopped) return;
          await emit({ chatId, seq: row.seq, kind: row.kind, subjectId: row.subjectId, at: row.createdAt.toISOString() });
        }
        if (rows.length < REPLAY_PAGE) return;
      }
    };

    /**
     * A quiet spell: read the log in case a publish was lost. chat_deleted is not in the log (it goes
     * with the chat), so a chat that is gone ends the stream here if its deletion was never heard.
     */
    const idleCheck = async () => {
      const before = last;
      await catchUp();
      if (last !== before || stopped) return;
      const exists = await prisma.chat.findUnique({ where: { id: chatId }, select: { id: true } });
      if (!exists) await emit({ chatId, seq: last + 1, kind: "chat_deleted", subjectId: chatId, at: new Date().toISOString() });
    };

    try {
      // One statement, so the cursor and the snapshot come from one view of the database.
      const [chat] = await prisma.$queryRaw<{ eventSeq: number; currentRevisionId: string | null }[]>`
        SELECT c.event_seq AS "eventSeq", s.current_revision_id::text AS "currentRevisionId"
          FROM chats c LEFT JOIN agent_snapshots s ON s.chat_id = c.id
         WHERE c.id = ${chatId}::uuid`;
      if (!chat) throw new NotFoundError("Chat", chatId);
      const head = chat.currentRevisionId ? { currentRevisionId: chat.currentRevisionId } : null;
      if (options.after !== undefined && options.after > chat.eventSeq) {
        throw new RangeError(`cursor ${options.after} is ahead of the chat's latest event ${chat.eventSeq}`);
      }
      if (options.opening) {
        await push({ type: "opening", chatId, seq: chat.eventSeq, snapshotRevisionId: head?.currentRevisionId ?? null });
      }
      last = options.after ?? chat.eventSeq;
      await withDatabase(catchUp);

      while (!stopped && !ended) {
        if (overflowed) {
          overflowed = false;
          await withDatabase(catchUp);
          continue;
        }
        const event = queue.shift();
        if (!event) {
          let idle: NodeJS.Timeout | undefined;
          const timedOut = await new Promise<boolean>((resolve) => {
            wake = () => resolve(false);
            if (options.idleCheckMs) idle = setTimeout(() => resolve(true), options.idleCheckMs);
          });
          clearTimeout(idle);
          wake = undefined;
          if (timedOut && !stopped) await withDatabase(idleCheck);
          continue;
        }
        if (event.seq <= last) continue; // already sent, from the replay
        if (event.seq === last + 1 || event.kind === "chat_deleted") await emit(event);
        else await withDatabase(catchUp); // a gap: the log has every committed event up to this one
      }
    } finally {
      unlisten();
    }
    stop();
  });
}
