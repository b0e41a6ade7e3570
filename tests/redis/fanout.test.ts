// Redis fan-out: two real server processes on one PostgreSQL database, both with REDIS_URL set.
// Mutations issued concurrently on both reach a chatEvents subscriber on either, with nothing missing,
// nothing twice, and in cursor order; events written on one process only (where no local event of the
// other could reveal a gap and make it read the log) still reach the other, which only Redis can do.
// A missing Redis fails this file; it is never skipped.
import type { Client } from "graphql-ws";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, test } from "vitest";
import { post, subscribe, wsClient } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { type ServerProcess, startServerProcess, stopAllServerProcesses } from "../helpers/server-process.js";

const ARRIVAL_MS = 60_000;
// A db number of its own for anything keyed (pub/sub channels are not per-db in Redis: another run's
// events on the shared channel are routed by chat id and never reach this file's subscribers).
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379/11";

let db: TestDatabase;
let a: ServerProcess;
let b: ServerProcess;
const clients: Client[] = [];

beforeAll(async () => {
  // Redis must be there: fail (never skip) with a clear message when it is not.
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  probe.on("error", () => {});
  try {
    await probe.connect();
    expect(await probe.ping()).toBe("PONG");
  } catch (error) {
    throw new Error(`The redis test project needs Redis at ${REDIS_URL} (set TEST_REDIS_URL): ${(error as Error).message}`);
  } finally {
    probe.disconnect();
  }
  db = await createTestDatabase();
  const env = { DATABASE_URL: db.location, REDIS_URL, PORT: "0", LOG_LEVEL: "info" };
  [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
}, 240_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.dispose()));
  await stopAllServerProcesses();
  await db?.destroy();
}, 60_000);

function client(server: ServerProcess): Client {
  const c = wsClient(server.wsUrl);
  clients.push(c);
  return c;
}

async function mutate(server: ServerProcess, query: string, variables?: Record<string, unknown>): Promise<Record<string, any>> {
  const response = await post(server.graphqlUrl, query, variables);
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  const [result] = Object.values(response.data!);
  expect(result.__typename === undefined || !/Error$/.test(result.__typename), JSON.stringify(result)).toBe(true);
  return result;
}

const startTrace = async (server: ServerProcess, chatId: string, toolName: string) =>
  (await mutate(server, `mutation($c: ID!, $n: String!) { startToolTrace(input: {chatId: $c, toolName: $n}) { __typename ... on ToolTrace { id uuid } } }`, {
    c: chatId,
    n: toolName,
  })) as { id: string; uuid: string };
const finishTrace = (server: ServerProcess, traceId: string) =>
  mutate(server, `mutation($t: ID!) { finishToolTrace(input: {traceId: $t, output: "ok"}) { __typename } }`, { t: traceId });

const STREAM = `subscription($c: ID!) {
  chatEvents(chatId: $c) {
    __typename
    ... on ChatStreamOpening { seq }
    ... on ChatEvent { seq kind subjectId trace { uuid } }
  }
}`;
type Sub = ReturnType<typeof subscribe<Record<string, any>>>;
const events = (sub: Sub) => sub.received.slice(1).map((r) => r.data?.chatEvents);
const hasSeq = (sub: Sub, seq: number) => events(sub).some((e) => e?.seq === seq);

async function latestSeq(chatUuid: string): Promise<number> {
  return (await db.prisma.chat.findUniqueOrThrow({ where: { id: chatUuid }, select: { eventSeq: true } })).eventSeq;
}

test("two processes: mutations on both reach a subscriber on either, each event once and in cursor order", async () => {
  expect(a.url).not.toBe(b.url);
  const chat = (await mutate(a, `mutation { createChat(input: {title: "fan-out"}) { __typename ... on Chat { id uuid } } }`)) as { id: string; uuid: string };
  const onA = subscribe(client(a), STREAM, { c: chat.id });
  const onB = subscribe(client(b), STREAM, { c: chat.id });
  await Promise.all([onA.until((all) => all.length >= 1, ARRIVAL_MS), onB.until((all) => all.length >= 1, ARRIVAL_MS)]);
  for (const sub of [onA, onB]) expect(sub.received[0]!.data!.chatEvents).toEqual({ __typename: "ChatStreamOpening", seq: 1 });

  // Concurrent writers, alternating processes: each trace starts on one and finishes on the other.
  const servers = [a, b];
  await Promise.all(
    Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; i < 8; i++) {
        const here = servers[(w + i) % 2]!;
        const there = servers[(w + i + 1) % 2]!;
        const trace = await startTrace(here, chat.id, `w${w}_${i}`);
        await finishTrace(there, trace.id);
      }
    }),
  );
  let latest = await latestSeq(chat.uuid);
  expect(latest).toBe(1 + 4 * 8 * 2);
  await Promise.all([onA.until(() => hasSeq(onA, latest), ARRIVAL_MS), onB.until(() => hasSeq(onB, latest), ARRIVAL_MS)]);

  // Writes on one process only: the other has nothing of its own to reveal a gap, so these reach
  // its subscriber through Redis or not at all. First on A, then on B.
  for (const [writer, label] of [
    [a, "only on A"],
    [b, "only on B"],
  ] as const) {
    for (let i = 0; i < 5; i++) await startTrace(writer, chat.id, `${label} ${i}`);
    latest = await latestSeq(chat.uuid);
    await Promise.all([onA.until(() => hasSeq(onA, latest), ARRIVAL_MS), onB.until(() => hasSeq(onB, latest), ARRIVAL_MS)]);
  }

  // One more, so anything sent twice would have arrived by now; then compare with the log.
  const fence = await startTrace(a, chat.id, "fence");
  latest = await latestSeq(chat.uuid);
  await Promise.all([onA.until(() => hasSeq(onA, latest), ARRIVAL_MS), onB.until(() => hasSeq(onB, latest), ARRIVAL_MS)]);
  const log = (await db.prisma.chatEvent.findMany({ where: { chatId: chat.uuid, seq: { gt: 1 } }, orderBy: { seq: "asc" } })).map((e) => ({
    seq: e.seq,
    kind: e.kind as string,
    subjectId: e.subjectId,
  }));
  expect(log.map((e) => e.seq)).toEqual(Array.from({ length: latest - 1 }, (_, i) => i + 2));
  expect(log.at(-1)!.subjectId).toBe(fence.uuid);
  for (const sub of [onA, onB]) {
    expect(sub.received.every((r) => !r.errors)).toBe(true);
    expect(events(sub).map((e) => ({ seq: e.seq, kind: e.kind, subjectId: e.subjectId }))).toEqual(log);
    for (const e of events(sub)) expect(e.trace.uuid).toBe(e.subjectId);
  }
  onA.dispose();
  onB.dispose();
}, 240_000);

test("chatsActivity on one process sees chats created, renamed and deleted on the other", async () => {
  const activity = subscribe(client(b), `subscription { chatsActivity { chatId seq kind chat { title } } }`);
  // No opening message: create chats on A until one is seen on B, then it is listening.
  const deadline = Date.now() + ARRIVAL_MS;
  for (;;) {
    await mutate(a, `mutation { createChat(input: {title: "probe"}) { __typename } }`);
    try {
      await activity.until((all) => all.length > 0, 1_000);
      break;
    } catch (error) {
      if (!(error as Error).message.startsWith("subscription did not deliver") || Date.now() > deadline) throw error;
    }
  }
  const chat = (await mutate(a, `mutation { createChat(input: {title: "made on A"}) { __typename ... on Chat { id uuid } } }`)) as { id: string; uuid: string };
  await mutate(a, `mutation($c: ID!) { renameChat(id: $c, title: "renamed on A") { __typename } }`, { c: chat.id });
  await mutate(a, `mutation($c: ID!) { deleteChat(id: $c) { __typename } }`, { c: chat.id });
  const mine = () => activity.received.map((r) => r.data?.chatsActivity).filter((e) => e?.chatId === chat.uuid);
  await activity.until(() => mine().some((e) => e.kind === "chat_deleted"), ARRIVAL_MS);
  expect(mine().map((e) => [e.seq, e.kind])).toEqual([
    [1, "chat_created"],
    [2, "chat_updated"],
    [3, "chat_deleted"],
  ]);
  activity.dispose();
}, 120_000);

test("both processes are still up and logged no unexpected error", () => {
  for (const server of [a, b]) {
    expect(server.output()).toMatch(/"database":"postgresql"/);
    expect(server.output()).not.toMatch(/"level":"error"/);
    expect(server.output()).not.toMatch(/uncaught|RepeaterOverflowError/i);
  }
});
