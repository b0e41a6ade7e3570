// Live fan-out reads each event's row once per process (server/schema/live-rows.ts), not once per
// subscriber: 50 real graphql-ws subscribers of one chat receive a trace's frames while the database
// is read at most once per event, counted at the driver adapter. Runs on PGlite (unit) and on
// PostgreSQL (postgres).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defaultLimits } from "../../server/config.js";
import { createEventBus, type EventBus, publishChatEvents } from "../../server/events/pubsub.js";
import type { ChatEventMessage } from "../../server/events/topics.js";
import { silentLogger } from "../../server/logger.js";
import { createServices, type Services } from "../../server/services/index.js";
import { startTestApp, subscribe, type TestApp, wsClients } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { recordPublished, type PublishedEvents } from "../helpers/services.js";
import { installStatementCounter, type StatementCounter } from "../helpers/statement-counter.js";

/** Arrival, never speed: a shared two-core machine. */
const ARRIVAL_MS = 30_000;
const SUBSCRIBERS = 50;

let counter: StatementCounter;
let db: TestDatabase;
let t: TestApp;
/** The app's own bus: its router listens here. */
let appBus: EventBus;
/** Services on another bus: they commit, and the test decides when the app hears the events. */
let offBus: { services: Services; published: PublishedEvents };

beforeAll(async () => {
  counter = installStatementCounter();
  db = await createTestDatabase();
  appBus = createEventBus();
  // No background work (sweep, agent heartbeats, transcript reads) whose reads would be counted.
  t = await startTestApp(db, { bus: appBus, env: { SWEEP_INTERVAL_SECONDS: "3600", AGENT_ENABLED: "false", CLAUDE_CODE_TRANSCRIPTS: "false" } });
  const bus = createEventBus();
  offBus = { services: createServices({ prisma: db.prisma, bus, limits: defaultLimits, log: silentLogger }), published: recordPublished(bus) };
});
afterAll(async () => {
  offBus?.published.stop();
  await disposeAll();
  await t?.stop();
  await db?.destroy();
  counter?.uninstall();
});

const { client, disposeAll } = wsClients(() => t.wsUrl);

/** Commits through the off-bus services; returns the events they published (the app has heard none). */
async function commitOffBus(work: () => Promise<unknown>): Promise<ChatEventMessage[]> {
  const before = offBus.published.events.length;
  await work();
  return (await offBus.published.settle()).slice(before);
}

/** Statements that read tool_traces (the frames' rows), not the streams' own reads of the log. */
const traceReads = (sqls: string[]) => sqls.filter((sql) => /^\s*SELECT\b/i.test(sql) && /"tool_traces"/.test(sql));

describe("one read per event, shared by every subscriber", () => {
  test(`${SUBSCRIBERS} subscribers of one chat get the finished trace while tool_traces is read at most once per event`, async () => {
    const chat = await offBus.services.chats.create({ title: "fan-out" });
    const FINISHED = `subscription($c: ID!) { toolTraceFinished(chatId: $c) { uuid status toolOutput } }`;
    const EVENTS = `subscription($c: ID!) { chatEvents(chatId: $c) { __typename ... on ChatEvent { seq kind trace { uuid status toolOutput } } } }`;
    // Half on the live-only filter, half on the resume stream (its ChatEvent.trace): both share.
    const subs = Array.from({ length: SUBSCRIBERS }, (_, i) => subscribe(client(), i % 2 ? EVENTS : FINISHED, { c: chat.id }));
    const framesOf = (sub: (typeof subs)[number]) =>
      sub.received.map((r) => r.data?.toolTraceFinished ?? r.data?.chatEvents?.trace).filter((trace): trace is Record<string, any> => !!trace);

    // Live-only subscriptions show nothing until an event: poke until every one has had a frame.
    const deadline = Date.now() + ARRIVAL_MS;
    while (!subs.every((s) => framesOf(s).length > 0)) {
      if (Date.now() > deadline) throw new Error("the subscriptions did not go live");
      publishChatEvents(
        appBus,
        await commitOffBus(async () => {
          const poke = await offBus.services.traces.start({ chatId: chat.id, toolName: "poke", toolInput: {} });
          await offBus.services.traces.finish({ traceId: poke.id, output: "poke" });
        }),
      );
      await new Promise((r) => setTimeout(r, 200));
    }
    // Let the pokes' frames drain before counting.
    await new Promise((r) => setTimeout(r, 500));

    // One trace, started and finished, committed before the app hears of it.
    let traceId = "";
    const events = await commitOffBus(async () => {
      traceId = (await offBus.services.traces.start({ chatId: chat.id, toolName: "shared", toolInput: { n: 1 } })).id;
      await offBus.services.traces.finish({ traceId, output: "the finished output" });
    });
    expect(events.map((e) => e.kind)).toEqual(["trace_started", "trace_finished"]);

    const { statements } = await counter.during(async () => {
      publishChatEvents(appBus, events);
      await Promise.all(subs.map((s) => s.until(() => framesOf(s).some((f) => f.uuid === traceId && f.status === "ok"), ARRIVAL_MS)));
    });

    // Every subscriber got the finished row: never one older than its event.
    for (const sub of subs) {
      const frames = framesOf(sub).filter((f) => f.uuid === traceId);
      expect(frames.at(-1)).toEqual({ uuid: traceId, status: "ok", toolOutput: "the finished output" });
      expect(sub.received.every((r) => !r.errors)).toBe(true);
    }
    const reads = traceReads(statements.map((s) => s.sql));
    // 75 frames (25 + 25 × 2 events); one read per event at most, often one for both (same tick).
    expect(reads.length, reads.join("\n")).toBeGreaterThanOrEqual(1);
    expect(reads.length, reads.join("\n")).toBeLessThanOrEqual(events.length);
  });
});

describe("rows the hot path committed in this process", () => {
  test("are shown to every subscriber without reading tool_traces at all", async () => {
    const chat = await t.app.services.chats.create({ title: "primed" });
    const FINISHED = `subscription($c: ID!) { toolTraceFinished(chatId: $c) { uuid status toolOutput } }`;
    const subs = Array.from({ length: 10 }, () => subscribe(client(), FINISHED, { c: chat.id }));
    const framesOf = (sub: (typeof subs)[number]) => sub.received.map((r) => r.data?.toolTraceFinished).filter((x): x is Record<string, any> => !!x);
    const deadline = Date.now() + ARRIVAL_MS;
    while (!subs.every((s) => framesOf(s).length > 0)) {
      if (Date.now() > deadline) throw new Error("the subscriptions did not go live");
      const poke = await t.app.services.traces.start({ chatId: chat.id, toolName: "poke" });
      await t.app.services.traces.finish({ traceId: poke.id, output: "poke" });
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 500));

    let traceId = "";
    const { statements } = await counter.during(async () => {
      traceId = (await t.app.services.traces.start({ chatId: chat.id, toolName: "primed" })).id;
      await t.app.services.traces.finish({ traceId, output: "as committed" });
      await Promise.all(subs.map((s) => s.until(() => framesOf(s).some((f) => f.uuid === traceId), ARRIVAL_MS)));
    });
    for (const sub of subs) expect(framesOf(sub).at(-1)).toEqual({ uuid: traceId, status: "ok", toolOutput: "as committed" });
    const reads = traceReads(statements.map((s) => s.sql));
    expect(reads, reads.join("\n")).toEqual([]);
  });
});
