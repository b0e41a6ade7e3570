// The live half of the API over a real graphql-ws client against the app on port 0: the live-only
// filters (toolTraceStarted, toolTraceFinished, snapshotSaved), the gap check of the per-chat stream
// fed out of order through the app's own bus, chatsActivity, and a burst of events larger than a
// Repeater's pending-push limit. Runs on PGlite (unit) and on PostgreSQL (postgres).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defaultLimits } from "../../server/config.js";
import { createEventBus, type EventBus, publishChatEvents } from "../../server/events/pubsub.js";
import type { ChatEventMessage } from "../../server/events/topics.js";
import { silentLogger } from "../../server/logger.js";
import { createServices, type Services } from "../../server/services/index.js";
import { execute, mutationResult, startTestApp, subscribe, type TestApp, wsClients } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { recordPublished, type PublishedEvents } from "../helpers/services.js";

/** Arrival, never speed: a shared two-core machine. */
const ARRIVAL_MS = 30_000;

let db: TestDatabase;
let t: TestApp;
/** The app's own bus: its services publish here and its router listens here. */
let appBus: EventBus;
/** Services on another bus: they commit, and the test decides what the app's bus hears. */
let offBus: { services: Services; published: PublishedEvents };

beforeAll(async () => {
  db = await createTestDatabase();
  appBus = createEventBus();
  t = await startTestApp(db, { bus: appBus });
  const bus = createEventBus();
  offBus = { services: createServices({ prisma: db.prisma, bus, limits: defaultLimits, log: silentLogger }), published: recordPublished(bus) };
});
afterAll(async () => {
  offBus?.published.stop();
  await disposeAll();
  await t?.stop();
  await db?.destroy();
});

const { client, disposeAll } = wsClients(() => t.wsUrl);

const mutate = async (query: string, variables?: Record<string, unknown>) => mutationResult(await execute(t.app, query, variables));

const createChat = async (title: string) =>
  (await mutate(`mutation($t: String) { createChat(input: {title: $t}) { __typename ... on Chat { id uuid } } }`, { t: title })) as {
    id: string;
    uuid: string;
  };
const startTrace = async (chatId: string, toolName = "run_command") =>
  (await mutate(
    `mutation($c: ID!, $n: String!) { startToolTrace(input: {chatId: $c, toolName: $n, toolInput: {cmd: "ls"}}) { __typename ... on ToolTrace { id uuid } } }`,
    { c: chatId, n: toolName },
  )) as { id: string; uuid: string };
const finishTrace = async (traceId: string, output = "done") =>
  mutate(`mutation($t: ID!, $o: String) { finishToolTrace(input: {traceId: $t, output: $o}) { __typename ... on ToolTrace { id status } } }`, {
    t: traceId,
    o: output,
  });
const saveSnapshot = async (chatId: string, state: unknown) =>
  (await mutate(`mutation($c: ID!, $s: JSON!) { saveSnapshot(input: {chatId: $c, state: $s}) { __typename ... on SnapshotRevision { id uuid turn } } }`, {
    c: chatId,
    s: state,
  })) as { id: string; uuid: string; turn: number };

type Sub = ReturnType<typeof subscribe<Record<string, any>>>;

/**
 * A live-only subscription sends nothing until something happens, so the test cannot see when the
 * server starts listening. Poke (cause an event) until the first frame arrives: from then on it is
 * live. Frames caused by pokes before that point are rightly never sent.
 */
async function untilLive(sub: Sub, poke: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + ARRIVAL_MS;
  for (;;) {
    await poke();
    try {
      await sub.until((items) => items.length > 0, 1_000);
      return;
    } catch (error) {
      if (!(error as Error).message.startsWith("subscription did not deliver") || Date.now() > deadline) throw error;
    }
  }
}

const TRACE_FIELDS = `uuid toolName status startedAt finishedAt latencyMs toolOutput error outcome outputBytes tokens { input output }`;

describe("live-only filters", () => {
  test("toolTraceStarted, toolTraceFinished and snapshotSaved deliver the rows as they stand after each event, and replay nothing", async () => {
    const chat = await createChat("live frames");
    // Before anyone subscribes: a finished trace and a saved snapshot, which must never be sent.
    const old = await startTrace(chat.id, "old_tool");
    await finishTrace(old.id, "old output");
    const oldRevision = await saveSnapshot(chat.id, { messages: ["old"] });

    const c = client();
    const started = subscribe(c, `subscription($c: ID!) { toolTraceStarted(chatId: $c) { ${TRACE_FIELDS} } }`, { c: chat.id });
    const finished = subscribe(c, `subscription($c: ID!) { toolTraceFinished(chatId: $c) { ${TRACE_FIELDS} } }`, { c: chat.id });
    const saved = subscribe(c, `subscription($c: ID!) { snapshotSaved(chatId: $c) { uuid turn state isCurrent } }`, { c: chat.id });

    const probes: string[] = [];
    const probeRevisions: string[] = [];
    const probeAll = async () => {
      const p = await startTrace(chat.id, "probe");
      probes.push(p.uuid);
      await finishTrace(p.id, "probe output");
      probeRevisions.push((await saveSnapshot(chat.id, { messages: [`probe ${probes.length}`] })).uuid);
    };
    await untilLive(started, probeAll);
    await untilLive(finished, probeAll);
    await untilLive(saved, probeAll);

    // Live: start a trace and see its started frame (running, nothing of a finish yet).
    const x = await startTrace(chat.id, "read_file");
    const startedFrames = await started.until((items) => items.some((i) => i.data?.toolTraceStarted?.uuid === x.uuid), ARRIVAL_MS);
    const startFrame = startedFrames.find((i) => i.data?.toolTraceStarted?.uuid === x.uuid)!.data!.toolTraceStarted;
    expect(startFrame).toMatchObject({ uuid: x.uuid, toolName: "read_file", status: "running", finishedAt: null, latencyMs: null, toolOutput: null });

    // Then its finish: the finished frame carries the finish.
    await finishTrace(x.id, "file contents");
    const finishedFrames = await finished.until((items) => items.some((i) => i.data?.toolTraceFinished?.uuid === x.uuid), ARRIVAL_MS);
    const finishFrame = finishedFrames.find((i) => i.data?.toolTraceFinished?.uuid === x.uuid)!.data!.toolTraceFinished;
    expect(finishFrame).toMatchObject({ uuid: x.uuid, toolName: "read_file", status: "ok", toolOutput: "file contents" });
    expect(finishFrame.finishedAt).not.toBeNull();
    expect(finishFrame.latencyMs).toBeGreaterThanOrEqual(0);

    // A trace recorded finished in one call is two events in one transaction: the started frame
    // must still be the trace as it stood after its start, not the finished row.
    const recorded = await mutate(
      `mutation($c: ID!) { recordToolTraces(input: {items: [{chatId: $c, toolName: "grep", output: "3 matches", error: "exit 1", outcome: "failed", tokens: {input: 5, output: 7}}]}) { __typename ... on RecordToolTracesPayload { traces { uuid } } } }`,
      { c: chat.id },
    );
    const y = recorded.traces[0].uuid as string;
    const both = await Promise.all([
      started.until((items) => items.some((i) => i.data?.toolTraceStarted?.uuid === y), ARRIVAL_MS),
      finished.until((items) => items.some((i) => i.data?.toolTraceFinished?.uuid === y), ARRIVAL_MS),
    ]);
    expect(both[0].find((i) => i.data?.toolTraceStarted?.uuid === y)!.data!.toolTraceStarted).toMatchObject({
      toolName: "grep",
      status: "running",
      finishedAt: null,
      latencyMs: null,
      toolOutput: null,
      error: null,
      outcome: null,
      outputBytes: null,
      tokens: { input: 0, output: 0 },
    });
    expect(both[1].find((i) => i.data?.toolTraceFinished?.uuid === y)!.data!.toolTraceFinished).toMatchObject({
      toolName: "grep",
      status: "error",
      toolOutput: "3 matches",
      error: "exit 1",
      outcome: "failed",
      tokens: { input: 5, output: 7 },
    });

    // A saved snapshot.
    const revision = await saveSnapshot(chat.id, { messages: ["hello", "world"] });
    const savedFrames = await saved.until((items) => items.some((i) => i.data?.snapshotSaved?.uuid === revision.uuid), ARRIVAL_MS);
    expect(savedFrames.at(-1)!.data!.snapshotSaved).toEqual({ uuid: revision.uuid, turn: revision.turn, state: { messages: ["hello", "world"] }, isCurrent: true });

    // Nothing old was replayed, nothing came twice, and each filter sent only its own kind, in order:
    // a suffix of the probes (those after it started listening), then the live ones.
    for (const items of [started.received, finished.received, saved.received]) expect(items.every((i) => !i.errors)).toBe(true);
    const startedIds = started.received.map((i) => i.data!.toolTraceStarted.uuid);
    const finishedIds = finished.received.map((i) => i.data!.toolTraceFinished.uuid);
    const savedIds = saved.received.map((i) => i.data!.snapshotSaved.uuid);
    expect(startedIds).not.toContain(old.uuid);
    expect(finishedIds).not.toContain(old.uuid);
    expect(savedIds).not.toContain(oldRevision.uuid);
    const suffixOf = (all: string[], got: string[]) => expect(got).toEqual(all.slice(all.length - got.length));
    suffixOf([...probes, x.uuid, y], startedIds);
    suffixOf([...probes, x.uuid, y], finishedIds);
    suffixOf([...probeRevisions, revision.uuid], savedIds);
    expect(startedIds.length).toBeGreaterThanOrEqual(3);
    started.dispose();
    finished.dispose();
    saved.dispose();
  });

  test("an unknown chat is refused with NOT_FOUND", async () => {
    const sub = subscribe(client(), `subscription($c: ID!) { toolTraceStarted(chatId: $c) { uuid } }`, { c: "0190a3c5-0000-7000-8000-000000000000" });
    const items = await sub.until((i) => i.some((r) => r.errors), ARRIVAL_MS);
    expect(items.flatMap((i) => i.errors ?? []).map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
  });
});

describe("the gap check", () => {
  const EVENTS = `subscription($c: ID!) { chatEvents(chatId: $c) { __typename ... on ChatStreamOpening { seq } ... on ChatEvent { seq kind subjectId trace { uuid status } revision { uuid } } } }`;

  /** Commits through services whose bus the app does not hear; returns what they published. */
  async function commitOffBus(work: () => Promise<unknown>): Promise<ChatEventMessage[]> {
    const before = offBus.published.events.length;
    await work();
    return (await offBus.published.settle()).slice(before);
  }

  test("events published out of order, with holes and twice, reach chatEvents once each and in order", async () => {
    const chat = await offBus.services.chats.create({ title: "gaps" });
    const sub = subscribe(client(), EVENTS, { c: chat.id });
    const [opening] = await sub.until((items) => items.length >= 1, ARRIVAL_MS);
    expect(opening!.data!.chatEvents).toEqual({ __typename: "ChatStreamOpening", seq: 1 });

    // Three events are committed; the app's bus hears none of them yet.
    let t1 = "";
    let t2 = "";
    const first = await commitOffBus(async () => {
      t1 = (await offBus.services.traces.start({ chatId: chat.id, toolName: "a", toolInput: {} })).id; // 2
      t2 = (await offBus.services.traces.start({ chatId: chat.id, toolName: "b", toolInput: {} })).id; // 3
      await offBus.services.traces.finish({ traceId: t1, output: "x" }); // 4
    });
    expect(first.map((e) => e.seq)).toEqual([2, 3, 4]);
    const bySeq = new Map(first.map((e) => [e.seq, e]));
    const hear = (...seqs: number[]) => publishChatEvents(appBus, seqs.map((s) => bySeq.get(s)!));
    const seqs = () => sub.received.slice(1).map((i) => i.data?.chatEvents?.seq);

    // Only seq 4 is heard: 2 and 3 are missing, and must be read from the log before it.
    hear(4);
    await sub.until((items) => items.length >= 4, ARRIVAL_MS);
    expect(seqs()).toEqual([2, 3, 4]);

    // The missing ones are heard late, and twice: nothing is sent again.
    hear(2, 3, 4, 2);
    // Two more are committed and heard in reverse order, then once more.
    const second = await commitOffBus(async () => {
      await offBus.services.snapshots.save({ chatId: chat.id, state: { m: 1 } }); // 5
      await offBus.services.traces.finish({ traceId: t2, error: "boom" }); // 6
    });
    expect(second.map((e) => e.seq)).toEqual([5, 6]);
    for (const e of second) bySeq.set(e.seq, e);
    hear(6);
    await sub.until((items) => items.length >= 6, ARRIVAL_MS);
    expect(seqs()).toEqual([2, 3, 4, 5, 6]);
    hear(5, 6, 3);
    // A last event through the app itself: everything heard before it has been handled.
    await execute(t.app, `mutation($c: ID!) { renameChat(id: $c, title: "gaps, renamed") { __typename } }`, { c: chat.id });
    const items = await sub.until((all) => all.some((i) => i.data?.chatEvents?.kind === "chat_updated"), ARRIVAL_MS);

    expect(items.every((i) => !i.errors)).toBe(true);
    const events = items.slice(1).map((i) => i.data!.chatEvents);
    expect(events.map((e) => [e.seq, e.kind])).toEqual([
      [2, "trace_started"],
      [3, "trace_started"],
      [4, "trace_finished"],
      [5, "snapshot_saved"],
      [6, "trace_finished"],
      [7, "chat_updated"],
    ]);
    expect(events[0].trace).toEqual({ uuid: t1, status: "ok" });
    expect(events[1].trace).toEqual({ uuid: t2, status: "running" }); // sent before t2 finished: the row as it stood then
    expect(events[3].revision.uuid).toBe(bySeq.get(5)!.subjectId);
    sub.dispose();
  });

  test("a live-only filter whose event was never heard still gets it when a later event shows the hole", async () => {
    const chat = await createChat("gap, live filter");
    const sub = subscribe(client(), `subscription($c: ID!) { toolTraceFinished(chatId: $c) { uuid status } }`, { c: chat.id });
    const probes: string[] = [];
    await untilLive(sub, async () => {
      const p = await startTrace(chat.id, "probe");
      probes.push(p.uuid);
      await finishTrace(p.id);
    });
    const heard = sub.received.length;

    // Committed off the app's bus: the finish of `lost` is never published where the app hears it.
    const lost = await offBus.services.traces.start({ chatId: chat.uuid, toolName: "lost", toolInput: {} });
    await commitOffBus(() => offBus.services.traces.finish({ traceId: lost.id, output: "never published" }));
    // A later event of the chat, published normally, reveals the hole.
    await startTrace(chat.id, "after");
    const items = await sub.until((all) => all.length > heard, ARRIVAL_MS);
    expect(items.slice(heard).map((i) => i.data!.toolTraceFinished)).toEqual([{ uuid: lost.id, status: "ok" }]);
    sub.dispose();
  });
});

describe("chatsActivity", () => {
  test("sees chats created, renamed and deleted, and the activity of other chats", async () => {
    const sub = subscribe(
      client(),
      `subscription { chatsActivity { seq kind chatId subjectId cursor chat { uuid title } trace { uuid toolName } revision { uuid } } }`,
    );
    await untilLive(sub, () => createChat("activity probe"));
    const from = sub.received.length;

    const a = await createChat("activity A");
    const other = await createChat("activity B");
    await mutate(`mutation($c: ID!) { renameChat(id: $c, title: "activity A, renamed") { __typename ... on Chat { title } } }`, { c: a.id });
    const trace = await startTrace(other.id, "edit_file");
    const revision = await saveSnapshot(other.id, { messages: [] });
    await mutate(`mutation($c: ID!) { deleteChat(id: $c) { __typename ... on DeleteChatPayload { deletedUuid } } }`, { c: a.id });

    const items = await sub.until((all) => all.some((i) => i.data?.chatsActivity?.kind === "chat_deleted" && i.data.chatsActivity.chatId === a.uuid), ARRIVAL_MS);
    expect(items.every((i) => !i.errors)).toBe(true);
    const mine = items
      .slice(from)
      .map((i) => i.data!.chatsActivity)
      .filter((e) => e.chatId === a.uuid || e.chatId === other.uuid);
    expect(mine.map((e) => [e.chatId, e.seq, e.kind])).toEqual([
      [a.uuid, 1, "chat_created"],
      [other.uuid, 1, "chat_created"],
      [a.uuid, 2, "chat_updated"],
      [other.uuid, 2, "trace_started"],
      [other.uuid, 3, "snapshot_saved"],
      [a.uuid, 3, "chat_deleted"],
    ]);
    // Rows as they stand when delivered: the renamed chat may already be gone, so only shapes that hold.
    expect(mine[1].chat).toEqual({ uuid: other.uuid, title: "activity B" });
    expect(mine[3].trace).toEqual({ uuid: trace.uuid, toolName: "edit_file" });
    expect(mine[4].revision).toEqual({ uuid: revision.uuid });
    expect(mine[5].chat).toBeNull();
    expect(mine.every((e) => typeof e.cursor === "string" && e.cursor.length > 0)).toBe(true);
    sub.dispose();
  });
});

describe("a burst larger than a Repeater's 1,024 pending pushes", () => {
  test("a 1,000-item batch (2,000 events) reaches chatEvents and chatsActivity whole, and the server keeps serving", async () => {
    const chat = await createChat("burst");
    const c = client();
    const events = subscribe(c, `subscription($c: ID!) { chatEvents(chatId: $c) { __typename ... on ChatEvent { seq kind } ... on ChatStreamOpening { seq } } }`, {
      c: chat.id,
    });
    await events.until((items) => items.length >= 1, ARRIVAL_MS);
    const activity = subscribe(c, `subscription { chatsActivity { chatId seq kind } }`);
    await untilLive(activity, () => createChat("burst probe"));

    const items = Array.from({ length: 1000 }, (_, i) => ({ chatId: chat.id, toolName: `tool_${i % 7}`, output: `out ${i}` }));
    const recorded = await mutate(
      `mutation($items: [RecordToolTraceInput!]!) { recordToolTraces(input: {items: $items}) { __typename ... on RecordToolTracesPayload { traces { uuid } } } }`,
      { items },
    );
    expect(recorded.traces).toHaveLength(1000);

    const all = await events.until((got) => got.length >= 2001, 120_000);
    expect(all.every((i) => !i.errors)).toBe(true);
    expect(all.slice(1).map((i) => i.data!.chatEvents.seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 2));
    const mine = () => activity.received.filter((i) => i.data?.chatsActivity?.chatId === chat.uuid);
    await activity.until(() => mine().length >= 2000, 120_000);
    expect(mine().map((i) => i.data!.chatsActivity.seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 2));

    // Still serving, and still live.
    await startTrace(chat.id, "after the burst");
    const after = await events.until((got) => got.length >= 2002, ARRIVAL_MS);
    expect(after.at(-1)!.data!.chatEvents).toEqual({ __typename: "ChatEvent", seq: 2002, kind: "trace_started" });
    events.dispose();
    activity.dispose();
  }, 240_000);
});
