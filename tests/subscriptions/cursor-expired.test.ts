// Resume cursors and retention, over a real graphql-ws client against the app on port 0 (PGlite in
// unit, PostgreSQL in postgres): after the pruner removed a chat's oldest events, a cursor before the
// oldest kept event gets CURSOR_EXPIRED (never a silent gap), a cursor at or after it resumes with
// exactly the events that follow, a live subscriber sees traces_pruned with what went, and the
// retention query reports the run. The stream's own guard is checked on a cursor the pre-check let
// through (the pruner running between the check and the replay).
import { afterAll, beforeAll, expect, test } from "vitest";
import { getPrisma } from "../../server/db/client.js";
import { chatEventStream } from "../../server/events/chat-stream.js";
import { startChatEventRouter } from "../../server/events/router.js";
import { silentLogger } from "../../server/logger.js";
import { expiryChecked } from "../../server/schema/subscriptions/chatEvents.js";
import { execute, mutationResult, startTestApp, subscribe, type TestApp, wsClients } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

/** Arrival, never speed: a shared two-core machine. */
const ARRIVAL_MS = 60_000;
const DAY = 86_400_000;

let db: TestDatabase;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  // Retention on (one day); the timer's start-up run finds nothing, and the tests run the pruner themselves.
  t = await startTestApp(db, { env: { TRACE_RETENTION_DAYS: "1", RETENTION_INTERVAL_SECONDS: "86400" } });
  // Wait for that first run, so that it cannot count or prune anything of the tests'.
  const until = Date.now() + ARRIVAL_MS;
  while ((await t.app.services.retention.report()).totals.runs < 1) {
    if (Date.now() > until) throw new Error("the pruner's start-up run did not happen");
    await new Promise((r) => setTimeout(r, 50));
  }
});
afterAll(async () => {
  await disposeAll();
  await t?.stop();
  await db?.destroy();
});

const { client, disposeAll } = wsClients(() => t.wsUrl);

const STREAM = `subscription($c: ID!, $after: String) {
  chatEvents(chatId: $c, after: $after) {
    __typename
    ... on ChatStreamOpening { seq cursor }
    ... on ChatEvent { seq cursor kind subjectId prune { traces steps events prunedThroughSeq cutoff } }
  }
}`;

type Sub = ReturnType<typeof subscribe<Record<string, any>>>;
const events = (sub: Sub) => sub.received.map((r) => r.data?.chatEvents).filter((m) => m?.__typename === "ChatEvent");

/** A chat with three traces started three days ago and two young ones; returns every event's cursor by seq. */
async function chatWithOldTraces(title: string) {
  const created = mutationResult(await execute(t.app, `mutation($t: String) { createChat(input: {title: $t}) { __typename ... on Chat { id uuid eventCursor } } }`, { t: title }));
  const chatId = created.uuid as string;
  const old = Date.now() - 3 * DAY;
  for (let i = 0; i < 3; i++) await t.app.services.traces.record({ chatId, toolName: "old", startedAt: new Date(old + i), latencyMs: 1 });
  for (let i = 0; i < 2; i++) await t.app.services.traces.record({ chatId, toolName: "young", latencyMs: 1 });
  // Read every cursor as a client would have kept it: seq 1 from createChat, the rest from the stream.
  const sub = subscribe(client(), STREAM, { c: chatId, after: created.eventCursor });
  await sub.until(() => events(sub).length >= 10, ARRIVAL_MS);
  sub.dispose();
  const cursors = new Map<number, string>([[1, created.eventCursor as string], ...events(sub).map((e) => [e.seq, e.cursor] as [number, string])]);
  // The events of the old traces (seq 1..7) were committed three days ago.
  await db.prisma.$executeRaw`UPDATE chat_events SET created_at = created_at - interval '3 days' WHERE chat_id = ${chatId}::uuid AND seq <= 7`;
  return { chatId, cursors };
}

/** The codes of a subscription that is refused, whether as a result with errors or as a graphql-ws error. */
async function refusal(variables: Record<string, unknown>): Promise<{ code?: unknown; prunedThroughSeq?: unknown; message: string }[]> {
  const sub = subscribe(client(), STREAM, variables);
  try {
    const items = await sub.until((all) => all.some((r) => r.errors), ARRIVAL_MS);
    expect(items.every((r) => !r.data?.chatEvents), "a refused subscription sent no message").toBe(true);
    return items.flatMap((r) => r.errors ?? []).map((e) => ({ ...e.extensions, message: e.message }));
  } catch (error) {
    const payload = JSON.parse((error as Error).message) as { message: string; extensions?: Record<string, unknown> }[];
    return payload.map((e) => ({ ...e.extensions, message: e.message }));
  }
}

test("after a prune: an older cursor is CURSOR_EXPIRED, one at or after the oldest kept event resumes without a gap", async () => {
  const { chatId, cursors } = await chatWithOldTraces("expiry");
  const live = subscribe(client(), STREAM, { c: chatId });
  await live.until((all) => all.length >= 1, ARRIVAL_MS);

  const run = await t.app.services.retention.prune();
  expect(run).toMatchObject({ traces: 3, events: 7, chats: 0 });

  // The live subscriber is told what went: seq 12, three traces and events up to 7.
  await live.until(() => events(live).some((e) => e.kind === "traces_pruned"), ARRIVAL_MS);
  const [pruned] = events(live);
  expect(pruned).toMatchObject({ seq: 12, kind: "traces_pruned", prune: { traces: 3, steps: 0, events: 7, prunedThroughSeq: 7 } });
  expect(new Date(pruned.prune.cutoff).getTime()).toBe(run!.cutoff.getTime());

  // Cursors before seq 7 would miss events 2..7: refused with the reason and the way out.
  for (const seq of [1, 3, 6]) {
    const [error, ...rest] = await refusal({ c: chatId, after: cursors.get(seq) });
    expect(rest).toEqual([]);
    expect(error).toMatchObject({ code: "CURSOR_EXPIRED", prunedThroughSeq: 7 });
    expect(error!.message).toMatch(/without `after`/);
  }

  // At the boundary (7: the next event, 8, is kept) and after it: exactly what follows, then live.
  for (const seq of [7, 9]) {
    const sub = subscribe(client(), STREAM, { c: chatId, after: cursors.get(seq) });
    await sub.until(() => events(sub).some((e) => e.seq === 12), ARRIVAL_MS);
    await execute(t.app, `mutation($c: ID!) { renameChat(id: $c, title: "fence ${seq}") { __typename } }`, { c: chatId });
    await sub.until(() => events(sub).some((e) => e.kind === "chat_updated"), ARRIVAL_MS);
    expect(sub.received.every((r) => !r.errors)).toBe(true);
    const seqs = events(sub).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seq + 1 + i));
    expect(seqs.at(-1)).toBeGreaterThanOrEqual(13);
    sub.dispose();
  }

  // Reopened without a cursor: the opening, then live.
  const fresh = subscribe(client(), STREAM, { c: chatId });
  const [opening] = await fresh.until((all) => all.length >= 1, ARRIVAL_MS);
  expect(opening!.data!.chatEvents).toMatchObject({ __typename: "ChatStreamOpening" });
  expect(opening!.errors).toBeUndefined();
  fresh.dispose();
  live.dispose();

  // The chat and the API agree with what went.
  const read = await execute(t.app, `query($c: ID!) { chat(id: $c) { stats { traceCount } traces(first: 10) { totalCount edges { node { toolName } } } } }`, { c: chatId });
  expect(read.data!.chat.stats.traceCount).toBe(2);
  expect(read.data!.chat.traces.edges.map((e: any) => e.node.toolName)).toEqual(["young", "young"]);
  const report = await execute(t.app, `{ retention { enabled days batchSize lastRunAt lastRun { traces events steps chats batches durationMs cutoff } totals { traces events chats runs } } }`);
  expect(report.errors).toBeUndefined();
  expect(report.data!.retention).toMatchObject({
    enabled: true,
    days: 1,
    // Unset RETENTION_BATCH_SIZE: smaller batches on PGlite, whose statements block the event loop.
    batchSize: process.env.TEST_BACKEND === "pglite" ? 100 : 500,
    lastRun: { traces: 3, events: 7, steps: 0, chats: 0, batches: 1, cutoff: run!.cutoff.toISOString() },
  });
  expect(Number(report.data!.retention.totals.traces)).toBe(3);
  expect(Number(report.data!.retention.totals.events)).toBe(7);
});

test("the stream itself ends with CURSOR_EXPIRED when the pruner ran between the cursor check and the replay", async () => {
  const { chatId } = await chatWithOldTraces("race");
  await t.app.services.retention.prune();
  const router = await startChatEventRouter(t.app.bus, silentLogger);
  try {
    // after = 2 passed the check when seq 2 was still kept; by the replay, 1..7 are gone.
    const stream = expiryChecked(chatEventStream(getPrisma(), router, { chatId, after: 2, opening: true }), 2);
    expect((await stream.next()).value).toMatchObject({ type: "opening" });
    await expect(stream.next()).rejects.toMatchObject({ extensions: { code: "CURSOR_EXPIRED", prunedThroughSeq: 7 } });
    // Without the guard the same replay would jump from 2 to 8 silently.
    const unguarded = chatEventStream(getPrisma(), router, { chatId, after: 2, opening: false });
    expect((await unguarded.next()).value).toMatchObject({ type: "event", event: { seq: 8 } });
    await unguarded.return(undefined);
  } finally {
    await router.close();
  }
});
