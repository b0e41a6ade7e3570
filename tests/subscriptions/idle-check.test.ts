// An event whose publish was lost (a process died between commit and publish, Redis reconnected)
// reaches a quiet chat's subscribers through the idle re-read of the log, without waiting for the
// chat's next write.
import { afterAll, beforeAll, expect, test } from "vitest";
import { defaultLimits } from "../../server/config.js";
import { createEventBus } from "../../server/events/pubsub.js";
import { silentLogger } from "../../server/logger.js";
import { createServices, type Services } from "../../server/services/index.js";
import { startTestApp, subscribe, type TestApp, wsClients } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const ARRIVAL_MS = 30_000;
let db: TestDatabase;
let t: TestApp;
/** Services whose events the app never hears: every publish of theirs is "lost". */
let unheard: Services;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { env: { STREAM_IDLE_CHECK_SECONDS: "1" } });
  unheard = createServices({ prisma: db.prisma, bus: createEventBus(), limits: defaultLimits, log: silentLogger });
});
const { client, disposeAll } = wsClients(() => t.wsUrl);
afterAll(async () => {
  await disposeAll();
  await t?.stop();
  await db?.destroy();
});

test("chatEvents and toolTraceStarted get an event that was committed but never published", { timeout: 90_000 }, async () => {
  const chat = await unheard.chats.create({ title: "quiet" });
  const events = subscribe(client(), `subscription($c: ID!) { chatEvents(chatId: $c) { __typename ... on ChatStreamOpening { seq } ... on ChatEvent { seq kind } } }`, { c: chat.id });
  const started = subscribe(client(), `subscription($c: ID!) { toolTraceStarted(chatId: $c) { uuid toolName status } }`, { c: chat.id });
  // Starts through the app (heard) until toolTraceStarted shows one: from then on both streams are live.
  // (A live-only subscription sends nothing of what came before it, so it is poked until it answers.)
  for (let tries = 0; started.received.length === 0; tries++) {
    await t.app.services.traces.start({ chatId: chat.id, toolName: "probe", toolInput: {} });
    await started.until((items) => items.length >= 1, 1_000).catch((error: Error) => {
      if (tries > 30) throw error;
    });
  }
  const heard = (await db.prisma.chat.findUniqueOrThrow({ where: { id: chat.id } })).eventSeq;
  const seqOf = (item: { data?: Record<string, any> }) => item.data!.chatEvents.seq as number;
  await events.until((items) => items.length > 0 && seqOf(items.at(-1)!) === heard, ARRIVAL_MS);
  const opened = seqOf(events.received[0]!);
  const framesBefore = started.received.length;

  const trace = await unheard.traces.start({ chatId: chat.id, toolName: "run_command", toolInput: {} });

  const items = await events.until((all) => seqOf(all.at(-1)!) === heard + 1, ARRIVAL_MS);
  expect(items.slice(1).map(seqOf)).toEqual(Array.from({ length: heard + 1 - opened }, (_, i) => opened + 1 + i));
  expect(items.at(-1)!.data!.chatEvents).toEqual({ __typename: "ChatEvent", seq: heard + 1, kind: "trace_started" });
  const frames = await started.until((all) => all.length > framesBefore, ARRIVAL_MS);
  expect(frames.slice(framesBefore).map((f) => f.data!.toolTraceStarted)).toEqual([{ uuid: trace.id, toolName: "run_command", status: "running" }]);
  events.dispose();
  started.dispose();
});
