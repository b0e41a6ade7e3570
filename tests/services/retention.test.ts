// The retention pruner (services/retention.ts) on PGlite (unit) and PostgreSQL (postgres): expired
// traces and events of several chats removed in batches of a small size while starts and finishes
// keep arriving, counters equal to COUNT(*) after, traces_pruned events in the log and on the bus, a
// chat whose traces all expired keeping its head, an idle chat deleted with chat_deleted, and
// retention off deleting nothing. "Old" data is made old by moving its times back by SQL.
import { expect, test } from "vitest";
import type { RetentionConfig } from "../../server/config.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { useServiceDatabase } from "../helpers/service-assertions.js";

const { db, h } = useServiceDatabase();

const DAY = 86_400_000;
const BATCH = 7;
const ON: RetentionConfig = { days: 1, intervalMs: 60_000, batchSize: BATCH };
const OFF: RetentionConfig = { days: null, intervalMs: 60_000, batchSize: BATCH };
const threeDaysAgo = (offsetMs = 0) => new Date(Date.now() - 3 * DAY + offsetMs);

/** Moves a chat's events committed so far back by three days: they are past the one-day limit. */
async function ageEvents(chatId: string): Promise<number> {
  await db.prisma.$executeRaw`UPDATE chat_events SET created_at = created_at - interval '3 days' WHERE chat_id = ${chatId}::uuid`;
  return (await db.prisma.chat.findUniqueOrThrow({ where: { id: chatId } })).eventSeq;
}

const setLastActivity = (chatId: string, at: Date) => db.prisma.$executeRaw`UPDATE chats SET last_activity_at = ${at} WHERE id = ${chatId}::uuid`;

async function recordOld(chatId: string, n: number, messageOf: (i: number) => string) {
  for (let i = 0; i < n; i++) {
    await h.services.traces.record({
      chatId,
      toolName: "read_file",
      messageId: messageOf(i),
      startedAt: threeDaysAgo(i),
      latencyMs: 5,
      output: "old",
      tokens: { input: 10, output: 1 },
    });
  }
}

/** Every chat's counters against its rows. */
async function countersMatchRows() {
  const rows = await db.prisma.$queryRaw<{ id: string; trace_count: number; running_count: number; error_count: number; n: number; running: number; errors: number }[]>`
    SELECT c.id::text, c.trace_count, c.running_count, c.error_count,
           (SELECT count(*)::int FROM tool_traces t WHERE t.chat_id = c.id) AS n,
           (SELECT count(*)::int FROM tool_traces t WHERE t.chat_id = c.id AND t.status = 'running') AS running,
           (SELECT count(*)::int FROM tool_traces t WHERE t.chat_id = c.id AND t.status IN ('error', 'timeout')) AS errors
      FROM chats c`;
  expect(rows.length).toBeGreaterThan(0);
  for (const r of rows) expect([r.trace_count, r.running_count, r.error_count], r.id).toEqual([r.n, r.running, r.errors]);
}

/** The stored log of a chat: contiguous seqs from prunedThroughSeq + 1 to eventSeq. */
async function keptLog(chatId: string) {
  const chat = await db.prisma.chat.findUniqueOrThrow({ where: { id: chatId } });
  const rows = await db.prisma.chatEvent.findMany({ where: { chatId }, orderBy: { seq: "asc" } });
  expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: chat.eventSeq - chat.prunedThroughSeq }, (_, i) => chat.prunedThroughSeq + 1 + i));
  return { chat, rows };
}

test("old traces and events of several chats go in batches while ingest goes on; heads stay, an idle chat goes", async () => {
  h.services.retention.configure(ON);
  try {
    // A: active, with old traces (steps m0..m9 and a step shared with a young trace), an old running trace, young traces.
    const a = await h.services.chats.create({ title: "active" });
    await recordOld(a.id, 40, (i) => `m${Math.floor(i / 4)}`);
    await recordOld(a.id, 1, () => "shared");
    const oldRunning = await h.services.traces.start({ chatId: a.id, toolName: "bash", startedAt: threeDaysAgo() });
    const aOldThrough = await ageEvents(a.id);
    const young = await h.services.traces.record({ chatId: a.id, toolName: "bash", messageId: "shared", latencyMs: 3, tokens: { input: 5, output: 5 } });
    for (let i = 0; i < 3; i++) await h.services.traces.record({ chatId: a.id, toolName: "bash", messageId: `young${i}`, latencyMs: 3, tokens: { input: 1, output: 1 } });

    // B: every trace expired, but active twelve hours ago: its traces go, its head stays.
    const b = await h.services.chats.create({ title: "expired traces, recent activity" });
    await recordOld(b.id, 20, (i) => `b${i}`);
    const bHead = await h.services.snapshots.save({ chatId: b.id, state: { messages: ["kept"] } });
    const bOldThrough = await ageEvents(b.id);
    const bActivity = new Date(Date.now() - DAY / 2);
    await setLastActivity(b.id, bActivity);

    // C: idle for three days: it goes whole.
    const c = await h.services.chats.create({ title: "idle" });
    await recordOld(c.id, 10, (i) => `c${i}`);
    await h.services.snapshots.save({ chatId: c.id, state: { messages: ["gone"] } });
    await ageEvents(c.id);
    await setLastActivity(c.id, threeDaysAgo());

    // D: young, untouched.
    const d = await h.services.chats.create({ title: "young" });
    await h.services.traces.record({ chatId: d.id, toolName: "bash", latencyMs: 1 });
    const dBefore = { chat: await db.prisma.chat.findUniqueOrThrow({ where: { id: d.id } }), events: await db.prisma.chatEvent.findMany({ where: { chatId: d.id } }) };

    // Ingest alongside: four writers start and finish traces on A and D until the pruner is done.
    const publishedBefore = (await h.published.settle()).length;
    let pruning = true;
    let prunedAt = { from: 0, to: 0 };
    const acknowledged: string[] = [];
    const latencies: number[] = [];
    let duringPrune = 0;
    const writer = async (chatId: string) => {
      while (pruning || acknowledged.length < 20) {
        const t0 = performance.now();
        const started = await h.services.traces.start({ chatId, toolName: "ingest" });
        const finished = await h.services.traces.finish({ traceId: started.id, output: "ok" });
        const t1 = performance.now();
        latencies.push(t1 - t0);
        acknowledged.push(finished.id);
        if (pruning && t0 >= prunedAt.from) duringPrune++;
      }
    };
    const writers = [writer(a.id), writer(d.id), writer(a.id), writer(d.id)];
    await new Promise((r) => setTimeout(r, 20));
    prunedAt.from = performance.now();
    const run = await h.services.retention.prune();
    prunedAt.to = performance.now();
    pruning = false;
    await Promise.all(writers);

    expect(run).toMatchObject({ traces: 41 + 20 + 10, chats: 1 });
    expect(duringPrune, "writes completed while the pruner ran").toBeGreaterThan(0);
    // Bounded: a write waits for at most one short batch, never for the whole run.
    expect(Math.max(...latencies)).toBeLessThan(5_000);

    // None lost: every acknowledged write is there, finished.
    const stored = await db.prisma.toolTrace.findMany({ where: { id: { in: acknowledged } }, select: { status: true } });
    expect(stored.length).toBe(acknowledged.length);
    expect(stored.every((t) => t.status === "ok")).toBe(true);
    await countersMatchRows();

    // A: old finished traces gone; the old running one, the young ones and the shared step kept.
    const aTraces = await db.prisma.toolTrace.findMany({ where: { chatId: a.id, toolName: { not: "ingest" } } });
    expect(aTraces.map((t) => t.id).sort()).toEqual([oldRunning.id, young.id, ...(await youngIds(a.id))].sort());
    const aSteps = (await db.prisma.modelStep.findMany({ where: { chatId: a.id } })).map((s) => s.stepKey).sort();
    expect(aSteps).toEqual(["shared", "young0", "young1", "young2"]);
    const aLog = await keptLog(a.id);
    expect(aLog.chat.prunedThroughSeq).toBe(aOldThrough);
    // Batches: each removed at most BATCH traces, with its own traces_pruned event.
    const aPrunes = await db.prisma.tracePrune.findMany({ where: { chatId: a.id }, orderBy: { createdAt: "asc" } });
    expect(aPrunes.map((p) => p.traces)).toEqual([7, 7, 7, 7, 7, 6]);
    expect(aPrunes.reduce((n, p) => n + p.steps, 0)).toBe(10);
    const aPruneEvents = aLog.rows.filter((r) => r.kind === "traces_pruned");
    expect(aPruneEvents.map((e) => e.subjectId)).toEqual(aPrunes.map((p) => p.id));

    // B: no traces, no steps; the chat, its head and its last activity as they were.
    const bAfter = await keptLog(b.id);
    expect(bAfter.chat).toMatchObject({ traceCount: 0, runningCount: 0, prunedThroughSeq: bOldThrough, lastActivityAt: bActivity });
    expect(await db.prisma.toolTrace.count({ where: { chatId: b.id } })).toBe(0);
    expect(await db.prisma.modelStep.count({ where: { chatId: b.id } })).toBe(0);
    expect(await db.prisma.agentSnapshot.findUnique({ where: { chatId: b.id } })).toMatchObject({ currentRevisionId: bHead.id });
    expect((await db.prisma.tracePrune.findMany({ where: { chatId: b.id } })).map((p) => p.traces)).toEqual([7, 7, 6]);

    // C: gone, with everything of it.
    expect(await db.prisma.chat.findUnique({ where: { id: c.id } })).toBeNull();
    expect(await db.prisma.toolTrace.count({ where: { chatId: c.id } })).toBe(0);
    expect(await db.prisma.agentSnapshotRevision.count({ where: { chatId: c.id } })).toBe(0);

    // D: nothing of it changed but what the writers added.
    expect(await db.prisma.chatEvent.findMany({ where: { chatId: d.id, seq: { lte: dBefore.chat.eventSeq } } })).toEqual(dBefore.events);
    expect((await db.prisma.chat.findUniqueOrThrow({ where: { id: d.id } })).prunedThroughSeq).toBe(0);

    // Published after each commit: every stored traces_pruned event, and C's chat_deleted.
    const published = (await h.published.settle()).slice(publishedBefore);
    for (const chat of [a, b]) {
      const stored = (await db.prisma.chatEvent.findMany({ where: { chatId: chat.id, kind: "traces_pruned" }, orderBy: { seq: "asc" } })).map((e) => [e.seq, e.subjectId]);
      expect(published.filter((e) => e.chatId === chat.id && e.kind === "traces_pruned").map((e) => [e.seq, e.subjectId])).toEqual(stored);
    }
    const cPublished = published.filter((e) => e.chatId === c.id);
    expect(cPublished.at(-1)).toMatchObject({ kind: "chat_deleted", subjectId: c.id });
    expect(cPublished.map((e) => e.seq)).toEqual(cPublished.map((_, i) => cPublished[0]!.seq + i));

    // The report.
    const report = await h.services.retention.report();
    expect(report).toMatchObject({ enabled: true, days: 1, batchSize: BATCH, lastRun: { traces: run!.traces, events: run!.events, steps: run!.steps, chats: 1, batches: run!.batches } });
    expect(report.totals).toMatchObject({ traces: BigInt(run!.traces), events: BigInt(run!.events), chats: 1n });
    expect(run!.batches).toBeGreaterThanOrEqual(6 + 3);

    // A second run finds only what the first left (the running trace stays), and deletes nothing.
    const before = await databaseFingerprint(db.prisma);
    const again = await h.services.retention.prune();
    expect(again).toMatchObject({ traces: 0, events: 0, chats: 0, batches: 0 });
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
  } finally {
    h.services.retention.configure(OFF);
  }

  async function youngIds(chatId: string) {
    return (await db.prisma.toolTrace.findMany({ where: { chatId, messageId: { startsWith: "young" } } })).map((t) => t.id);
  }
});

test("retention off (the default): a run reads and writes nothing", async () => {
  h.services.retention.configure(OFF);
  const chat = await h.services.chats.create({ title: "off" });
  await recordOld(chat.id, 3, (i) => `off${i}`);
  await ageEvents(chat.id);
  await setLastActivity(chat.id, new Date(Date.now() - 400 * DAY));
  const before = await databaseFingerprint(db.prisma);
  const status = await db.prisma.retentionStatus.findUniqueOrThrow({ where: { id: 1 } });
  const publishedBefore = (await h.published.settle()).length;

  expect(await h.services.retention.prune()).toBeNull();

  expect(await databaseFingerprint(db.prisma)).toEqual(before);
  expect(await db.prisma.retentionStatus.findUniqueOrThrow({ where: { id: 1 } })).toEqual(status);
  expect((await h.published.settle()).slice(publishedBefore)).toEqual([]);
  expect(await h.services.retention.report()).toMatchObject({ enabled: false, days: null });
});
