// The per-chat stream and the process's router below GraphQL: a burst far beyond a Repeater's 1,024
// pending pushes crosses the bus and the router whole, and a stream whose subscriber stops reading
// while more than its queue limit (10,000) arrives drops its queue and catches up from the log,
// ending with every event exactly once, in order. Runs on PGlite (unit) and on PostgreSQL (postgres).
import { afterAll, beforeAll, expect, test } from "vitest";
import { chatEventStream, type StreamEvent, type StreamOpening } from "../../server/events/chat-stream.js";
import { createEventBus, publishChatEvents } from "../../server/events/pubsub.js";
import { type ChatEventRouter, startChatEventRouter } from "../../server/events/router.js";
import type { ChatEventMessage } from "../../server/events/topics.js";
import { silentLogger } from "../../server/logger.js";
import { createServiceHarness } from "../helpers/services.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
const routers: ChatEventRouter[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.allSettled(routers.map((r) => r.close()));
  await db?.destroy();
});

const message = (chatId: string, seq: number): ChatEventMessage => ({ chatId, seq, kind: "trace_started", subjectId: chatId, at: new Date(0).toISOString() });

test("a burst of 5,000 events published at once reaches the router's listeners whole and in order", async () => {
  const bus = createEventBus();
  const router = await startChatEventRouter(bus, silentLogger);
  routers.push(router);
  const one: number[] = [];
  const all: number[] = [];
  router.listen("chat-1", (e) => one.push(e.seq));
  router.listenAll((e) => all.push(e.seq));
  const errors: unknown[] = [];
  const onUncaught = (error: unknown) => errors.push(error);
  process.on("uncaughtException", onUncaught);
  try {
    publishChatEvents(bus, [...Array.from({ length: 5000 }, (_, i) => message("chat-1", i + 1)), message("chat-2", 1)]);
    const deadline = Date.now() + 30_000;
    while (all.length < 5001 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  } finally {
    process.off("uncaughtException", onUncaught);
  }
  expect(errors).toEqual([]);
  expect(one).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
  expect(all).toEqual([...one, 1]);
});

/** Commits events seq from..to of the chat at once, the way a burst of writers would (rows, then counter). */
async function commitEvents(chatId: string, from: number, to: number) {
  await db.prisma.$transaction([
    db.prisma.$executeRawUnsafe(
      `INSERT INTO chat_events (chat_id, seq, kind, subject_id, created_at)
         SELECT $1::uuid, g, 'trace_started', $1::uuid, now() FROM generate_series(${from}, ${to}) AS g`,
      chatId,
    ),
    db.prisma.chat.update({ where: { id: chatId }, data: { eventSeq: to } }),
  ]);
}

async function nextEvent(stream: AsyncIterator<StreamOpening | StreamEvent>): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const next = await Promise.race([
    stream.next(),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the stream sent nothing within 60 s")), 60_000))),
  ]).finally(() => clearTimeout(timer));
  expect(next.done).toBe(false);
  expect((next.value as StreamEvent).type).toBe("event");
  return (next.value as StreamEvent).event.seq;
}

test("a live subscriber that stops reading while more than 10,000 events arrive drops its queue and gets every one, once and in order, from the log", async () => {
  const { services, bus, published } = createServiceHarness(db);
  published.stop();
  const router = await startChatEventRouter(bus, silentLogger);
  routers.push(router);
  const chat = await services.chats.create({ title: "overflow" });
  const stream = chatEventStream(db.prisma, router, { chatId: chat.id, opening: true })[Symbol.asyncIterator]();
  expect((await stream.next()).value).toMatchObject({ type: "opening", seq: 1 });

  // Two events read, the second from the live queue: the stream has left its replay, its queue is
  // empty, and it is still handing seq 3 over (an unbuffered Repeater's push settles on the reader's
  // next call).
  for (const seq of [2, 3]) {
    await commitEvents(chat.id, seq, seq);
    publishChatEvents(bus, [message(chat.id, seq)]);
    expect(await nextEvent(stream)).toBe(seq);
  }

  // Not reading while 10,001 events are committed and announced: the queue fills to 10,000
  // (4..10003) and seq 10004 overflows it, leaving it empty. Nothing comes after, so only the
  // catch-up that an overflow starts can deliver 4..10004.
  const last = 10_004;
  await commitEvents(chat.id, 4, last);
  let routed = 0;
  const unlisten = router.listen(chat.id, () => routed++); // after the stream's listener: it sees each one later
  publishChatEvents(bus, Array.from({ length: last - 3 }, (_, i) => message(chat.id, i + 4)));
  const deadline = Date.now() + 60_000;
  while (routed < last - 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  unlisten();
  expect(routed).toBe(last - 3);

  const seqs = [2, 3];
  while (seqs.at(-1)! < last) seqs.push(await nextEvent(stream));
  expect(seqs).toEqual(Array.from({ length: last - 1 }, (_, i) => i + 2));

  // Still live afterwards, and nothing was left queued to come twice.
  await commitEvents(chat.id, last + 1, last + 1);
  publishChatEvents(bus, [message(chat.id, last + 1)]);
  expect(await nextEvent(stream)).toBe(last + 1);
  await stream.return?.();
}, 180_000);
