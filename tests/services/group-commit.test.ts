// Group commit through the trace service, on PGlite (npm test) and PostgreSQL (test:pg): concurrent
// starts and finishes share statements; an item that cannot be written fails alone while the others
// commit; events are published only after the statement that wrote them returned (committed), in
// seq order per chat; and the chat counters follow every kind of write.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defaultLimits } from "../../server/config.js";
import { writeConcurrencyOf } from "../../server/db/client.js";
import type { WriteSql } from "../../server/db/sql-connection.js";
import { ConflictError, NotFoundError, ValidationError } from "../../server/errors.js";
import { createEventBus } from "../../server/events/pubsub.js";
import { CHAT_EVENTS, isProbe } from "../../server/events/topics.js";
import { silentLogger } from "../../server/logger.js";
import { createServices, type Services } from "../../server/services/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
let services: Services;
/** What happened, in order: each hot statement's return (its commit) and each event heard on the bus. */
const timeline: ({ at: "committed"; seqs: string[] } | { at: "published"; key: string })[] = [];
let statements = 0;
/** When set, the next statement fails with this SQLSTATE (as a batch with one bad value would). */
let failNextWith: string | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  const observed: WriteSql = {
    async query<T>(sql: string, params?: unknown[]) {
      statements++;
      if (failNextWith) {
        const code = failNextWith;
        failNextWith = undefined;
        throw Object.assign(new Error(`simulated ${code}`), { code });
      }
      const rows = await db.writeSql.query<T>(sql, params);
      // The statement has returned: it committed. Note the events it wrote.
      const seqs = (rows as { chat_id?: string; seq?: number; seq2?: number | null }[]).flatMap((r) =>
        [r.seq, r.seq2].filter((s): s is number => typeof s === "number").map((s) => `${r.chat_id}/${s}`),
      );
      timeline.push({ at: "committed", seqs });
      return rows;
    },
  };
  const bus = createEventBus();
  const iterator = bus.subscribe(CHAT_EVENTS)[Symbol.asyncIterator]();
  void (async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      if (!isProbe(next.value)) timeline.push({ at: "published", key: `${next.value.chatId}/${next.value.seq}` });
    }
  })();
  services = createServices({ prisma: db.prisma, bus, limits: defaultLimits, log: silentLogger, writeSql: observed, writeConcurrency: writeConcurrencyOf(db) });
});
afterAll(async () => {
  await db?.destroy();
});

const settle = () => new Promise((r) => setTimeout(r, 50));

async function counters(chatId: string) {
  const chat = await db.prisma.chat.findUniqueOrThrow({ where: { id: chatId }, select: { traceCount: true, runningCount: true, errorCount: true } });
  const [traceCount, runningCount, errorCount] = await Promise.all([
    db.prisma.toolTrace.count({ where: { chatId } }),
    db.prisma.toolTrace.count({ where: { chatId, status: "running" } }),
    db.prisma.toolTrace.count({ where: { chatId, status: { in: ["error", "timeout"] } } }),
  ]);
  return { stored: chat, counted: { traceCount, runningCount, errorCount } };
}

/** Every event of the chat was published after the statement that wrote it returned, in seq order. */
function publishedAfterCommit(chatId: string) {
  const committedAt = new Map<string, number>();
  const published: number[] = [];
  timeline.forEach((entry, i) => {
    if (entry.at === "committed") for (const key of entry.seqs) committedAt.set(key, i);
    else if (entry.key.startsWith(`${chatId}/`)) {
      const committed = committedAt.get(entry.key);
      // Events of the general path (Prisma transactions) are not in this timeline; the hot ones must be.
      if (committed !== undefined) expect(committed, `${entry.key} published before its statement returned`).toBeLessThan(i);
      published.push(Number(entry.key.split("/")[1]));
    }
  });
  expect(published).toEqual([...published].sort((a, b) => a - b));
  return published;
}

describe("concurrent starts", () => {
  test("share statements, and each caller gets its own row", async () => {
    const chat = await services.chats.create({ title: "group" });
    const before = statements;
    const traces = await Promise.all(Array.from({ length: 24 }, (_, i) => services.traces.start({ chatId: chat.id, toolName: `tool_${i}`, toolCallId: `call_${i}` })));
    const used = statements - before;
    expect(used).toBeLessThan(24);
    expect(used).toBeLessThanOrEqual(writeConcurrencyOf(db) + 1);
    expect(traces.map((t) => t.toolName)).toEqual(Array.from({ length: 24 }, (_, i) => `tool_${i}`));
    expect(new Set(traces.map((t) => t.id)).size).toBe(24);
    for (const t of traces) expect(await db.prisma.toolTrace.findUniqueOrThrow({ where: { id: t.id } })).toEqual(t);
    await settle();
    const events = await db.prisma.chatEvent.findMany({ where: { chatId: chat.id }, orderBy: { seq: "asc" } });
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(publishedAfterCommit(chat.id)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect((await counters(chat.id)).stored).toEqual({ traceCount: 24, runningCount: 24, errorCount: 0 });
  });

  test("an unknown chat, a conflicting retry and an identical retry are answered alone; the others commit", async () => {
    const chat = await services.chats.create({ title: "apart" });
    const first = await services.traces.start({ chatId: chat.id, toolName: "read", toolCallId: "again", toolInput: { a: 1 } });
    const missingChat = randomUUID();
    const settled = await Promise.allSettled([
      services.traces.start({ chatId: chat.id, toolName: "ok_1" }),
      services.traces.start({ chatId: missingChat, toolName: "nowhere" }),
      services.traces.start({ chatId: chat.id, toolName: "read", toolCallId: "again", toolInput: { a: 2 } }),
      services.traces.start({ chatId: chat.id, toolName: "read", toolCallId: "again", toolInput: { a: 1 } }),
      services.traces.start({ chatId: chat.id, toolName: "ok_2" }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled", "fulfilled"]);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    expect((settled[3] as PromiseFulfilledResult<{ id: string }>).value.id).toBe(first.id);
    const stored = await db.prisma.toolTrace.findMany({ where: { chatId: chat.id }, orderBy: { toolName: "asc" } });
    expect(stored.map((t) => t.toolName)).toEqual(["ok_1", "ok_2", "read"]);
    expect(await db.prisma.toolTrace.count({ where: { chatId: missingChat } })).toBe(0);
    await settle();
    // chat_created, the first start, then one event each for ok_1 and ok_2: no gap, nothing for the retries.
    expect((await db.prisma.chatEvent.findMany({ where: { chatId: chat.id }, orderBy: { seq: "asc" } })).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(publishedAfterCommit(chat.id)).toEqual([1, 2, 3, 4]);
  });

  test("a statement refused for one item's value (SQLSTATE 22/23): every item goes alone, the good ones commit", async () => {
    const chat = await services.chats.create({ title: "refused" });
    failNextWith = "22P02";
    const settled = await Promise.allSettled([
      services.traces.start({ chatId: chat.id, toolName: "a" }),
      services.traces.start({ chatId: randomUUID(), toolName: "b" }),
      services.traces.start({ chatId: chat.id, toolName: "c" }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
    expect(await db.prisma.toolTrace.count({ where: { chatId: chat.id } })).toBe(2);
  });

  test("a database failure (not a data error) fails the batch's callers and writes nothing", async () => {
    const chat = await services.chats.create({ title: "down" });
    failNextWith = "57P01"; // admin_shutdown: the connection went away
    const settled = await Promise.allSettled([services.traces.start({ chatId: chat.id, toolName: "a" }), services.traces.start({ chatId: chat.id, toolName: "b" })]);
    expect(settled.some((s) => s.status === "rejected")).toBe(true);
    const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected");
    for (const r of rejected) expect((r.reason as { code?: string }).code).toBe("57P01");
    const fulfilled = settled.filter((s) => s.status === "fulfilled").length;
    expect(await db.prisma.toolTrace.count({ where: { chatId: chat.id } })).toBe(fulfilled);
  });
});

describe("concurrent finishes", () => {
  test("share statements; a replay, a conflict, an unknown trace and a finish before its start fail or answer alone", async () => {
    const chat = await services.chats.create({ title: "finishes" });
    const startedAt = new Date("2026-06-01T00:00:00.000Z");
    const traces = await Promise.all(Array.from({ length: 8 }, (_, i) => services.traces.start({ chatId: chat.id, toolName: `t${i}`, toolCallId: `c${i}`, startedAt })));
    await services.traces.finish({ traceId: traces[0]!.id, output: "done" });
    const before = statements;
    const settled = await Promise.allSettled([
      services.traces.finish({ traceId: traces[0]!.id, output: "done" }), // identical replay
      services.traces.finish({ traceId: traces[1]!.id, output: "x" }),
      services.traces.finish({ chatId: chat.id, toolCallId: "c2", error: "boom" }),
      services.traces.finish({ traceId: randomUUID(), output: "x" }), // unknown
      services.traces.finish({ traceId: traces[3]!.id, finishedAt: new Date("2026-05-01T00:00:00.000Z") }), // before its start
      services.traces.finish({ traceId: traces[4]!.id, latencyMs: 1234, tokens: { input: 10, output: 5 } }),
      services.traces.finish({ traceId: traces[5]!.id, status: "timeout" }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "rejected", "fulfilled", "fulfilled"]);
    expect((settled[3] as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
    expect((settled[4] as PromiseRejectedResult).reason).toBeInstanceOf(ValidationError);
    expect(statements - before).toBeLessThan(7);
    const conflict = await services.traces.finish({ traceId: traces[1]!.id, output: "another" }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ConflictError);

    const byId = async (id: string) => db.prisma.toolTrace.findUniqueOrThrow({ where: { id } });
    expect(await byId(traces[2]!.id)).toMatchObject({ status: "error", error: "boom" });
    expect(await byId(traces[3]!.id)).toMatchObject({ status: "running", finishedAt: null });
    const withLatency = await byId(traces[4]!.id);
    expect(withLatency).toMatchObject({ status: "ok", latencyMs: 1234, inputTokens: 10, outputTokens: 5 });
    expect(withLatency.finishedAt!.toISOString()).toBe("2026-06-01T00:00:01.234Z");
    expect((settled[5] as PromiseFulfilledResult<unknown>).value).toEqual(withLatency);
    expect(await db.prisma.modelStep.findUnique({ where: { chatId_stepKey: { chatId: chat.id, stepKey: `trace:${traces[4]!.id}` } } })).toMatchObject({ inputTokens: 10, outputTokens: 5 });
    expect(await byId(traces[5]!.id)).toMatchObject({ status: "timeout" });

    await settle();
    const seqs = (await db.prisma.chatEvent.findMany({ where: { chatId: chat.id }, orderBy: { seq: "asc" } })).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    // chat_created, 8 starts, the first finish, then four finishes (c1, c2, t4, t5).
    expect(seqs.length).toBe(1 + 8 + 1 + 4);
    publishedAfterCommit(chat.id);
    const c = await counters(chat.id);
    expect(c.stored).toEqual(c.counted);
    expect(c.stored).toEqual({ traceCount: 8, runningCount: 3, errorCount: 2 });
  });
});

describe("chat counters", () => {
  test("follow recorded batches, the general path, the sweep and deletions", async () => {
    const chat = await services.chats.create({ title: "counters" });
    const old = new Date(Date.now() - 3_600_000);
    await services.traces.recordBatch([
      { chatId: chat.id, toolName: "a", output: "x", toolCallId: "r1" },
      { chatId: chat.id, toolName: "b", error: "bad" },
      { chatId: chat.id, toolName: "c", status: "timeout" },
    ]);
    // A retried call id sends the batch down the general path (a replay and a new item).
    await services.traces.recordBatch([
      { chatId: chat.id, toolName: "a", output: "x", toolCallId: "r1" },
      { chatId: chat.id, toolName: "d", output: "y" },
    ]);
    await services.traces.start({ chatId: chat.id, toolName: "stale", startedAt: old });
    await services.traces.start({ chatId: chat.id, toolName: "live" });
    expect(await services.traces.sweepAbandoned(60_000)).toBeGreaterThanOrEqual(1);
    let c = await counters(chat.id);
    expect(c.stored).toEqual(c.counted);
    expect(c.stored).toEqual({ traceCount: 6, runningCount: 1, errorCount: 2 });
    await db.prisma.toolTrace.deleteMany({ where: { chatId: chat.id, toolName: "b" } });
    c = await counters(chat.id);
    expect(c.stored).toEqual({ traceCount: 5, runningCount: 1, errorCount: 1 });
    await services.chats.delete(chat.id);
    expect(await db.prisma.chat.count({ where: { id: chat.id } })).toBe(0);
  });
});

describe("rows read back from the one-statement path", () => {
  test("instants at the edges of the range (years 0001 and 9999) come back as stored", async () => {
    const chat = await services.chats.create({ title: "edges" });
    const early = await services.traces.record({ chatId: chat.id, toolName: "early", startedAt: new Date("0001-01-01T00:00:00.000Z"), output: "" });
    const late = await services.traces.start({ chatId: chat.id, toolName: "late", startedAt: new Date("9999-12-31T23:59:59.999Z") });
    for (const t of [early, late]) expect(t).toEqual(await db.prisma.toolTrace.findUniqueOrThrow({ where: { id: t.id } }));
    expect(early.startedAt.toISOString()).toBe("0001-01-01T00:00:00.000Z");
  });
});
