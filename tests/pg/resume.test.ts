// Resume on PostgreSQL, where writers truly overlap. A real graphql-ws client subscribes to chatEvents
// and receives some events, then disconnects. While it is away the same trace starts and finishes,
// others start from parallel writers (one of them holding its transaction open, with its seq taken,
// while the rest queue on the chat's row lock), and a snapshot is saved. It reconnects with the last
// cursor: after the opening message, exactly the events the log holds after that cursor arrive, each
// once and in order. A second test reconnects while the held transaction is still open, so the
// handover from replay to live happens across an uncommitted seq.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, test } from "vitest";
import { defaultLimits } from "../../server/config.js";
import { silentLogger } from "../../server/logger.js";
import { writeChats } from "../../server/services/chat-writes.js";
import type { ServiceDeps } from "../../server/services/deps.js";
import { mutationResult, post, startTestApp, subscribe, type TestApp, wsClients } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

/** Arrival, never speed: a shared two-core machine. */
const ARRIVAL_MS = 60_000;

let db: TestDatabase;
let t: TestApp;
let deps: ServiceDeps;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
  // The app's own bus: what the held writer commits is announced like any other write.
  deps = { prisma: db.prisma, bus: t.app.bus, limits: defaultLimits, log: silentLogger };
});
afterAll(async () => {
  await disposeAll();
  await t?.stop();
  await db?.destroy();
});

const { client, disposeAll } = wsClients(() => t.wsUrl);

const mutate = async (query: string, variables?: Record<string, unknown>) => mutationResult(await post(t.graphqlUrl, query, variables));

const startTrace = async (chatId: string, toolName: string) =>
  (await mutate(`mutation($c: ID!, $n: String!) { startToolTrace(input: {chatId: $c, toolName: $n}) { __typename ... on ToolTrace { id uuid } } }`, {
    c: chatId,
    n: toolName,
  })) as { id: string; uuid: string };
const finishTrace = (traceId: string, output: string) =>
  mutate(`mutation($t: ID!, $o: String) { finishToolTrace(input: {traceId: $t, output: $o}) { __typename } }`, { t: traceId, o: output });
const saveSnapshot = (chatId: string, state: unknown) =>
  mutate(`mutation($c: ID!, $s: JSON!) { saveSnapshot(input: {chatId: $c, state: $s}) { __typename ... on SnapshotRevision { uuid } } }`, { c: chatId, s: state });

const STREAM = `subscription($c: ID!, $after: String) {
  chatEvents(chatId: $c, after: $after) {
    __typename
    ... on ChatStreamOpening { seq cursor snapshot { uuid } }
    ... on ChatEvent { seq cursor kind subjectId trace { uuid status } revision { uuid } }
  }
}`;
type Sub = ReturnType<typeof subscribe<Record<string, any>>>;
const events = (sub: Sub) => sub.received.slice(1).map((r) => r.data?.chatEvents);

async function logAfter(chatUuid: string, after: number) {
  const rows = await db.prisma.chatEvent.findMany({ where: { chatId: chatUuid, seq: { gt: after } }, orderBy: { seq: "asc" } });
  return rows.map((r) => ({ seq: r.seq, kind: r.kind as string, subjectId: r.subjectId }));
}

async function eventSeqOf(chatUuid: string): Promise<number> {
  return (await db.prisma.chat.findUniqueOrThrow({ where: { id: chatUuid }, select: { eventSeq: true } })).eventSeq;
}

/** Sessions of this test database waiting on a lock (the chat's row lock, here). */
async function lockWaiters(): Promise<number> {
  const [row] = await db.prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
  return row!.n;
}

async function waitUntil(what: string, check: () => Promise<boolean>, ms = ARRIVAL_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A writer that takes the chat's row lock (and so its next seq), writes a trace start and its event,
 * and keeps its transaction open until released.
 */
function heldWriter(chatUuid: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: (seq: number) => void;
  const hasLock = new Promise<number>((r) => (locked = r));
  const traceId = randomUUID();
  const done = writeChats(deps, [chatUuid], async (w) => {
    const chat = w.chats.get(chatUuid)!;
    await w.tx.toolTrace.create({
      data: {
        id: traceId,
        chatId: chatUuid,
        sessionId: chat.currentSessionId,
        turnNumber: chat.nextTurn,
        toolName: "held_open",
        toolInput: {},
        startedAt: new Date(),
        startHash: "held",
      },
    });
    w.events.add(chatUuid, "trace_started", traceId);
    locked(chat.eventSeq + 1);
    await released;
  });
  return { traceId, hasLock, release, done };
}

/**
 * The writers of "while away": the held one first; once it holds the lock, parallel starts, a finish
 * and a snapshot, which must queue behind it; then it is released and everyone commits.
 */
async function writeWhileAway(chatId: string, chatUuid: string, runningTraceId: string, round: number, beforeRelease?: (heldSeq: number) => Promise<void>) {
  const held = heldWriter(chatUuid);
  const heldSeq = await held.hasLock;
  const parallel = [
    ...Array.from({ length: 4 }, (_, i) => startTrace(chatId, `parallel_${round}_${i}`)),
    finishTrace(runningTraceId, `finished while away ${round}`),
    saveSnapshot(chatId, { messages: [`saved while held ${round}`] }),
  ];
  try {
    // Every one of them is queued on the row lock behind the open transaction, and nothing committed.
    await waitUntil("the parallel writers to queue on the chat's row lock", async () => (await lockWaiters()) >= parallel.length);
    expect(await eventSeqOf(chatUuid)).toBe(heldSeq - 1);
    await beforeRelease?.(heldSeq);
  } finally {
    held.release();
    const settled = await Promise.allSettled([held.done, ...parallel]);
    const failed = settled.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
  return { heldSeq, heldTraceId: held.traceId };
}

test("reconnecting with the last cursor delivers exactly the events committed while away, each once, in order", async () => {
  const chat = (await mutate(`mutation { createChat(input: {title: "resume"}) { __typename ... on Chat { id uuid } } }`)) as { id: string; uuid: string };

  // 1. Subscribe, receive some events, disconnect.
  const first = client();
  const live = subscribe(first, STREAM, { c: chat.id });
  await live.until((all) => all.length >= 1, ARRIVAL_MS);
  const a = await startTrace(chat.id, "a");
  const b = await startTrace(chat.id, "b");
  await finishTrace(a.id, "a done");
  await live.until(() => events(live).length >= 3, ARRIVAL_MS);
  expect(events(live).map((e) => [e.seq, e.kind])).toEqual([
    [2, "trace_started"],
    [3, "trace_started"],
    [4, "trace_finished"],
  ]);
  const lastCursor = events(live).at(-1).cursor as string;
  const lastSeq = events(live).at(-1).seq as number;
  live.dispose();
  await first.dispose();

  // 2. While away: the same trace starts and finishes; others start in parallel behind a writer that
  //    holds its transaction open; a snapshot is saved.
  const same = await startTrace(chat.id, "same");
  await finishTrace(same.id, "same done");
  const { heldSeq, heldTraceId } = await writeWhileAway(chat.id, chat.uuid, b.id, 1);
  const revision = await saveSnapshot(chat.id, { messages: ["after the writers"] });

  // 3. Reconnect with the last cursor.
  const again = subscribe(client(), STREAM, { c: chat.id, after: lastCursor });
  const [opening] = await again.until((all) => all.length >= 1, ARRIVAL_MS);
  const latest = await eventSeqOf(chat.uuid);
  expect(opening!.data!.chatEvents).toMatchObject({ __typename: "ChatStreamOpening", seq: latest, snapshot: { uuid: revision.uuid } });

  // 4. Exactly the log after the cursor, each once, in order; then it is live.
  const expected = await logAfter(chat.uuid, lastSeq);
  expect(expected.map((e) => e.seq)).toEqual(Array.from({ length: latest - lastSeq }, (_, i) => lastSeq + 1 + i));
  await again.until(() => events(again).length >= expected.length, ARRIVAL_MS);
  const fence = await startTrace(chat.id, "fence");
  await again.until(() => events(again).some((e) => e.subjectId === fence.uuid), ARRIVAL_MS);
  expect(again.received.every((r) => !r.errors)).toBe(true);
  const got = events(again);
  expect(got.map((e) => ({ seq: e.seq, kind: e.kind, subjectId: e.subjectId }))).toEqual([
    ...expected,
    { seq: latest + 1, kind: "trace_started", subjectId: fence.uuid },
  ]);

  // What was done while away is all there: the held writer's seq came first of the parallel ones.
  expect(expected[0]).toEqual({ seq: lastSeq + 1, kind: "trace_started", subjectId: same.uuid });
  expect(expected[1]).toEqual({ seq: lastSeq + 2, kind: "trace_finished", subjectId: same.uuid });
  expect(expected.find((e) => e.subjectId === heldTraceId)).toEqual({ seq: heldSeq, kind: "trace_started", subjectId: heldTraceId });
  expect(heldSeq).toBe(lastSeq + 3);
  expect(expected.filter((e) => e.kind === "trace_started")).toHaveLength(6); // same, held, four parallel
  expect(expected.filter((e) => e.kind === "trace_finished").map((e) => e.subjectId)).toEqual([same.uuid, b.uuid]);
  expect(expected.filter((e) => e.kind === "snapshot_saved")).toHaveLength(2);
  expect(got.find((e) => e.subjectId === same.uuid)!.trace).toEqual({ uuid: same.uuid, status: "ok" });
  again.dispose();
}, 180_000);

test("reconnecting while a writer holds its seq open: the replay stops before it, and live picks it up with everything queued behind it", async () => {
  const chat = (await mutate(`mutation { createChat(input: {title: "resume, held"}) { __typename ... on Chat { id uuid eventCursor } } }`)) as {
    id: string;
    uuid: string;
    eventCursor: string;
  };
  const running = await startTrace(chat.id, "running");
  const away = await startTrace(chat.id, "while away");
  await finishTrace(away.id, "done");

  let sub: Sub | undefined;
  await writeWhileAway(chat.id, chat.uuid, running.id, 2, async (heldSeq) => {
    // Reconnect from the chat's first event while the held seq is uncommitted.
    sub = subscribe(client(), STREAM, { c: chat.id, after: chat.eventCursor });
    const [opening] = await sub.until((all) => all.length >= 1, ARRIVAL_MS);
    expect(opening!.data!.chatEvents.seq).toBe(heldSeq - 1);
    await sub.until(() => events(sub!).length >= heldSeq - 2, ARRIVAL_MS);
  });
  const latest = await eventSeqOf(chat.uuid);
  await sub!.until(() => events(sub!).some((e) => e.seq === latest), ARRIVAL_MS);
  const fence = await startTrace(chat.id, "fence");
  await sub!.until(() => events(sub!).some((e) => e.subjectId === fence.uuid), ARRIVAL_MS);

  expect(sub!.received.every((r) => !r.errors)).toBe(true);
  const expected = await logAfter(chat.uuid, 1);
  expect(expected.map((e) => e.seq)).toEqual(Array.from({ length: latest + 1 - 1 }, (_, i) => i + 2));
  expect(events(sub!).map((e) => ({ seq: e.seq, kind: e.kind, subjectId: e.subjectId }))).toEqual(expected);
  sub!.dispose();
}, 180_000);
