import { expect, test } from "vitest";
import { ConflictError } from "../../server/errors.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";

// The sweep looks at every chat of the database: each test leaves no trace that a later test's
// sweep could find stale (old traces are swept or finished; young ones stay young for hours).

const { db, h } = useServiceDatabase();
const { changesNothing, eventLog, storedTrace } = serviceAssertions(() => db, () => h);

const HOUR = 3_600_000;

const startAt = (chatId: string, startedAt?: Date, toolName = "bash") => h.services.traces.start({ chatId, toolName, toolInput: {}, startedAt });

test("marks only traces running longer than the age as abandoned, each with a trace_finished event", async () => {
  const chat = await h.services.chats.create({ title: "sweep" });
  const now = Date.now();
  const stale = await startAt(chat.id, new Date(now - 2 * HOUR));
  const veryStale = await startAt(chat.id, new Date(now - 40 * 24 * HOUR)); // latency beyond 32 bits
  const young = await startAt(chat.id, new Date(now - 30 * 60_000));
  const fresh = await startAt(chat.id); // server clock
  const oldButFinished = await startAt(chat.id, new Date(now - 3 * HOUR));
  const finished = await h.services.traces.finish({ traceId: oldButFinished.id, output: "done" });

  const sweptAt = new Date();
  expect(await h.services.traces.sweepAbandoned(HOUR, sweptAt)).toBe(2);

  for (const [trace, age] of [
    [stale, 2 * HOUR],
    [veryStale, 2_147_483_647],
  ] as const) {
    expect(await storedTrace(trace.id)).toMatchObject({
      status: "abandoned",
      finishedAt: sweptAt,
      latencyMs: age === 2 * HOUR ? sweptAt.getTime() - stale.startedAt.getTime() : age,
      finishHash: null,
      toolOutput: null,
    });
  }
  expect(await storedTrace(young.id)).toEqual(young);
  expect(await storedTrace(fresh.id)).toEqual(fresh);
  expect(await storedTrace(oldButFinished.id)).toEqual(finished);

  const log = await eventLog(chat.id);
  expect(log.slice(-2).map(([kind]) => kind)).toEqual(["trace_finished", "trace_finished"]);
  expect(new Set(log.slice(-2).map(([, id]) => id))).toEqual(new Set([stale.id, veryStale.id]));

  // Finish the young ones so later sweeps in this file see nothing of this chat.
  await h.services.traces.finish({ traceId: young.id });
  await h.services.traces.finish({ traceId: fresh.id });
});

test("a second sweep finds nothing, writes nothing and publishes nothing", async () => {
  const chat = await h.services.chats.create();
  const old = await startAt(chat.id, new Date(Date.now() - 5 * HOUR));
  await startAt(chat.id); // young: left running
  expect(await h.services.traces.sweepAbandoned(HOUR)).toBe(1);
  expect((await storedTrace(old.id)).status).toBe("abandoned");

  expect(await changesNothing(() => h.services.traces.sweepAbandoned(HOUR))).toBe(0);
});

test("the age is a strict boundary: exactly the age is left alone, a millisecond more is swept", async () => {
  const chat = await h.services.chats.create();
  const startedAt = new Date(Date.now() - 10 * HOUR);
  const trace = await startAt(chat.id, startedAt);
  expect(await h.services.traces.sweepAbandoned(HOUR, new Date(startedAt.getTime() + HOUR))).toBe(0);
  expect((await storedTrace(trace.id)).status).toBe("running");
  expect(await h.services.traces.sweepAbandoned(HOUR, new Date(startedAt.getTime() + HOUR + 1))).toBe(1);
  expect(await storedTrace(trace.id)).toMatchObject({ status: "abandoned", latencyMs: HOUR + 1 });
});

test("traces of several chats: each chat gets its own contiguous events", async () => {
  const a = await h.services.chats.create({ title: "a" });
  const b = await h.services.chats.create({ title: "b" });
  const old = new Date(Date.now() - 2 * HOUR);
  const a1 = await startAt(a.id, old);
  const b1 = await startAt(b.id, old);
  const a2 = await startAt(a.id, old);
  expect(await h.services.traces.sweepAbandoned(HOUR)).toBe(3);
  expect((await eventLog(a.id)).map(([kind, id]) => `${kind}:${id}`).slice(-2).sort()).toEqual(
    [`trace_finished:${a1.id}`, `trace_finished:${a2.id}`].sort(),
  );
  expect((await eventLog(b.id)).at(-1)).toEqual(["trace_finished", b1.id]);
});

test("a late finish of an abandoned trace is accepted and replaces the sweep's finish", async () => {
  const chat = await h.services.chats.create();
  const startedAt = new Date(Date.now() - 2 * HOUR);
  const trace = await h.services.traces.start({ chatId: chat.id, toolCallId: "call_late", toolName: "bash", toolInput: {}, startedAt });
  expect(await h.services.traces.sweepAbandoned(HOUR)).toBe(1);
  expect((await storedTrace(trace.id)).status).toBe("abandoned");

  const finishedAt = new Date(startedAt.getTime() + 90 * 60_000);
  const late = await h.services.traces.finish({ chatId: chat.id, toolCallId: "call_late", finishedAt, output: "finally", tokens: { input: 3 } });
  expect(late).toMatchObject({ status: "ok", finishedAt, latencyMs: 90 * 60_000, toolOutput: "finally", inputTokens: 3 });
  expect(await storedTrace(trace.id)).toEqual(late);
  expect((await eventLog(chat.id)).map(([kind]) => kind)).toEqual(["chat_created", "trace_started", "trace_finished", "trace_finished"]);

  // From then on it is a finished trace like any other: a replay is a no-op, another finish a conflict.
  const before = await databaseFingerprint(db.prisma);
  expect(await h.services.traces.finish({ traceId: trace.id, finishedAt, output: "finally", tokens: { input: 3 } })).toEqual(late);
  expect(await databaseFingerprint(db.prisma)).toEqual(before);
  await expect(h.services.traces.finish({ traceId: trace.id, output: "other" })).rejects.toBeInstanceOf(ConflictError);
  expect(await databaseFingerprint(db.prisma)).toEqual(before);
  // And the sweep leaves it alone.
  expect(await h.services.traces.sweepAbandoned(HOUR)).toBe(0);
});

test("a late error finish of an abandoned trace records the error", async () => {
  const chat = await h.services.chats.create();
  const trace = await startAt(chat.id, new Date(Date.now() - 3 * HOUR));
  await h.services.traces.sweepAbandoned(HOUR);
  const late = await h.services.traces.finish({ traceId: trace.id, error: "connection lost" });
  expect(late).toMatchObject({ status: "error", error: "connection lost", latencyMs: late.finishedAt!.getTime() - trace.startedAt.getTime() });
});

test("a deleted chat's traces are gone: the sweep does not trip over them", async () => {
  const chat = await h.services.chats.create();
  await startAt(chat.id, new Date(Date.now() - 2 * HOUR));
  await h.services.chats.delete(chat.id);
  expect(await h.services.traces.sweepAbandoned(HOUR)).toBe(0);
});
