// The pruner's timer as the app starts it (app.start, scheduleRetention), on PGlite (unit) and
// PostgreSQL (postgres): with TRACE_RETENTION_DAYS unset nothing runs even at a 50 ms interval; with
// it set the timer prunes expired data on its own, run after run, and stops with the app.
import { afterEach, expect, test } from "vitest";
import { execute, startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";

const DAY = 86_400_000;
let db: TestDatabase | undefined;
let t: TestApp | undefined;

afterEach(async () => {
  await t?.stop();
  await db?.destroy();
  t = db = undefined;
});

/** A chat whose traces, events and last activity are three days old. */
async function oldChat(app: TestApp) {
  const chat = await app.app.services.chats.create({ title: "old" });
  for (let i = 0; i < 5; i++) await app.app.services.traces.record({ chatId: chat.id, toolName: "x", startedAt: new Date(Date.now() - 3 * DAY + i), latencyMs: 1 });
  await db!.prisma.$executeRaw`UPDATE chat_events SET created_at = created_at - interval '3 days' WHERE chat_id = ${chat.id}::uuid`;
  await db!.prisma.$executeRaw`UPDATE chats SET last_activity_at = now() - interval '3 days' WHERE id = ${chat.id}::uuid`;
  return chat;
}

const runs = async () => (await db!.prisma.retentionStatus.findUniqueOrThrow({ where: { id: 1 } })).runs;

test("retention off (the default): no timer runs, nothing is deleted", async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { env: { RETENTION_INTERVAL_SECONDS: "0.05" } });
  // Counts every call the timer would make (it calls the service's prune on each tick).
  const retention = t.app.services.retention;
  const prune = retention.prune;
  let calls = 0;
  retention.prune = (options) => (calls++, prune(options));
  await oldChat(t);
  const before = await databaseFingerprint(db.prisma);
  await new Promise((r) => setTimeout(r, 1_000)); // twenty intervals

  expect(calls).toBe(0);
  expect(await runs()).toBe(0);
  expect(await databaseFingerprint(db.prisma)).toEqual(before);
  const report = await execute(t.app, `{ retention { enabled days lastRunAt lastRun { traces } totals { runs traces } } }`);
  expect(report.data!.retention).toEqual({ enabled: false, days: null, lastRunAt: null, lastRun: null, totals: { runs: 0, traces: 0 } });
});

test("retention on: the timer prunes by itself, run after run, and stops with the app", async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { env: { TRACE_RETENTION_DAYS: "1", RETENTION_INTERVAL_SECONDS: "0.1" } });
  const chat = await oldChat(t);
  const keep = await t.app.services.chats.create({ title: "young" });
  await t.app.services.traces.record({ chatId: keep.id, toolName: "x", latencyMs: 1 });

  const until = Date.now() + 30_000;
  while ((await db.prisma.chat.findUnique({ where: { id: chat.id } })) !== null) {
    if (Date.now() > until) throw new Error("the timer did not prune the idle chat");
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await db.prisma.toolTrace.count({ where: { chatId: chat.id } })).toBe(0);
  expect(await db.prisma.toolTrace.count({ where: { chatId: keep.id } })).toBe(1);
  // And again: the timer repeats (a run finding nothing is counted too).
  const first = await runs();
  while ((await runs()) < first + 2) {
    if (Date.now() > until) throw new Error("the timer did not run again");
    await new Promise((r) => setTimeout(r, 100));
  }
  const report = await execute(t.app, `{ retention { enabled totals { traces chats runs } } }`);
  expect(report.data!.retention).toMatchObject({ enabled: true, totals: { traces: 5, chats: 1 } });

  await t.stop();
  t = undefined;
  const after = await runs();
  await new Promise((r) => setTimeout(r, 500));
  expect(await runs()).toBe(after);
});
