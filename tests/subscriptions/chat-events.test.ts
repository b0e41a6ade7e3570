// chatEvents, the resume stream, over a real graphql-ws client against the app on port 0: the opening
// message, live from the opening, replay after a cursor with a writer committing during the replay
// (no gap, no duplicate across the handover), Chat.eventCursor as `after`, chat_deleted ending the
// stream, and refused cursors and chats. Runs on PGlite (unit) and on PostgreSQL (postgres).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encodeCursor } from "../../server/schema/cursors.js";
import { execute, mutationResult, startTestApp, subscribe, type TestApp, wsClients } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

/** Arrival, never speed: a shared two-core machine. */
const ARRIVAL_MS = 60_000;

let db: TestDatabase;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
});
afterAll(async () => {
  await disposeAll();
  await t?.stop();
  await db?.destroy();
});

const { client, disposeAll } = wsClients(() => t.wsUrl);

const mutate = async (query: string, variables?: Record<string, unknown>) => mutationResult(await execute(t.app, query, variables));

const createChat = async (title: string) =>
  (await mutate(`mutation($t: String) { createChat(input: {title: $t}) { __typename ... on Chat { id uuid eventCursor } } }`, { t: title })) as {
    id: string;
    uuid: string;
    eventCursor: string;
  };

const STREAM = `subscription($c: ID!, $after: String) {
  chatEvents(chatId: $c, after: $after) {
    __typename
    ... on ChatStreamOpening { seq cursor chat { uuid title } snapshot { uuid turn state } }
    ... on ChatEvent { seq cursor kind chatId subjectId trace { uuid status toolName } revision { uuid turn } chat { uuid title } }
  }
}`;

type Sub = ReturnType<typeof subscribe<Record<string, any>>>;
const messages = (sub: Sub) => sub.received.map((r) => r.data?.chatEvents);
const events = (sub: Sub) => messages(sub).slice(1);

interface LogRow {
  seq: number;
  kind: string;
  subjectId: string;
}

/** The chat's event log as the database holds it, after a seq. */
async function logAfter(chatUuid: string, after: number): Promise<LogRow[]> {
  const rows = await db.prisma.chatEvent.findMany({ where: { chatId: chatUuid, seq: { gt: after } }, orderBy: { seq: "asc" } });
  return rows.map((r) => ({ seq: r.seq, kind: r.kind, subjectId: r.subjectId }));
}

async function eventSeqOf(chatUuid: string): Promise<number> {
  return (await db.prisma.chat.findUniqueOrThrow({ where: { id: chatUuid }, select: { eventSeq: true } })).eventSeq;
}

/**
 * Commits one more event and waits for it: everything the stream sent before it has arrived, so a
 * duplicate or a stray event after the expected ones would be in `received` by now.
 */
async function fence(sub: Sub, chatUuid: string): Promise<number> {
  await mutate(`mutation($c: ID!) { renameChat(id: $c, title: "fence") { __typename } }`, { c: chatUuid });
  const seq = await eventSeqOf(chatUuid);
  await sub.until(() => events(sub).some((e) => e?.seq === seq), ARRIVAL_MS);
  return seq;
}

/** Every event the stream sent, checked against the log: exactly `expected`, each once, in order, with its row. */
function expectExactly(sub: Sub, expected: LogRow[]) {
  expect(sub.received.every((r) => !r.errors), JSON.stringify(sub.received.find((r) => r.errors))).toBe(true);
  const got = events(sub);
  expect(got.map((e) => ({ seq: e.seq, kind: e.kind, subjectId: e.subjectId }))).toEqual(expected);
  for (const e of got) {
    expect(e.__typename).toBe("ChatEvent");
    expect(typeof e.cursor).toBe("string");
    if (e.kind.startsWith("trace_")) expect(e.trace?.uuid).toBe(e.subjectId);
    if (e.kind === "snapshot_saved" || e.kind === "snapshot_restored") expect(e.revision?.uuid).toBe(e.subjectId);
    if (e.kind === "chat_created" || e.kind === "chat_updated") expect(e.chat?.uuid).toBe(e.subjectId);
  }
}

async function subscriptionErrorCodes(variables: Record<string, unknown>): Promise<unknown[]> {
  const sub = subscribe(client(), STREAM, variables);
  try {
    const items = await sub.until((all) => all.some((r) => r.errors), ARRIVAL_MS);
    expect(items.every((r) => !r.data?.chatEvents), "a refused subscription sent no message").toBe(true);
    return items.flatMap((r) => r.errors ?? []).map((e) => e.extensions?.code);
  } catch (error) {
    // A refusal sent as a graphql-ws `error` message instead of a result.
    const payload = JSON.parse((error as Error).message) as { extensions?: { code?: unknown } }[];
    return payload.map((e) => e.extensions?.code);
  }
}

describe("the opening and live", () => {
  test("opens with no snapshot and the chat's cursor, then sends each change live with its kind, cursor and current row", async () => {
    const chat = await createChat("opening");
    const sub = subscribe(client(), STREAM, { c: chat.id });
    const [opening] = await sub.until((all) => all.length >= 1, ARRIVAL_MS);
    expect(opening!.data!.chatEvents).toEqual({
      __typename: "ChatStreamOpening",
      seq: 1,
      cursor: chat.eventCursor,
      chat: { uuid: chat.uuid, title: "opening" },
      snapshot: null,
    });

    const started = await mutate(`mutation($c: ID!) { startToolTrace(input: {chatId: $c, toolName: "bash"}) { __typename ... on ToolTrace { id uuid } } }`, { c: chat.id });
    await sub.until(() => events(sub).length >= 1, ARRIVAL_MS);
    expect(events(sub)[0]).toMatchObject({ seq: 2, kind: "trace_started", trace: { uuid: started.uuid, status: "running", toolName: "bash" }, revision: null });
    await mutate(`mutation($t: ID!) { finishToolTrace(input: {traceId: $t, output: "ok"}) { __typename } }`, { t: started.id });
    const revision = await mutate(`mutation($c: ID!) { saveSnapshot(input: {chatId: $c, state: {messages: ["m"]}}) { __typename ... on SnapshotRevision { uuid turn } } }`, { c: chat.id });
    await mutate(`mutation($c: ID!) { renameChat(id: $c, title: "opening, renamed") { __typename } }`, { c: chat.id });
    await sub.until(() => events(sub).length >= 4, ARRIVAL_MS);
    expectExactly(sub, await logAfter(chat.uuid, 1));
    const [, finished, saved, renamed] = events(sub);
    expect(finished).toMatchObject({ seq: 3, kind: "trace_finished", trace: { uuid: started.uuid, status: "ok" } });
    expect(saved).toMatchObject({ seq: 4, kind: "snapshot_saved", revision: { uuid: revision.uuid, turn: revision.turn }, trace: null });
    expect(renamed).toMatchObject({ seq: 5, kind: "chat_updated", chat: { uuid: chat.uuid, title: "opening, renamed" } });
    sub.dispose();

    // A second subscriber opens with the current snapshot and the latest cursor, and replays nothing.
    const again = subscribe(client(), STREAM, { c: chat.id });
    const [second] = await again.until((all) => all.length >= 1, ARRIVAL_MS);
    expect(second!.data!.chatEvents).toMatchObject({
      __typename: "ChatStreamOpening",
      seq: 5,
      cursor: renamed.cursor,
      snapshot: { uuid: revision.uuid, turn: revision.turn, state: { messages: ["m"] } },
    });
    // On the quiet chat, `after` the first event replays the rest with nothing new to prompt it.
    const replay = subscribe(client(), STREAM, { c: chat.id, after: chat.eventCursor });
    await replay.until(() => events(replay).length >= 4, ARRIVAL_MS);
    expect(replay.received[0]!.data!.chatEvents).toMatchObject({ __typename: "ChatStreamOpening", seq: 5 });

    const last = await fence(again, chat.uuid);
    expect(events(again).map((e) => e.seq)).toEqual([last]);
    again.dispose();
    await replay.until(() => events(replay).some((e) => e.seq === last), ARRIVAL_MS);
    expectExactly(replay, await logAfter(chat.uuid, 1));
    replay.dispose();
  });
});

describe("replay after a cursor", () => {
  test("replays exactly the events after it, across replay pages, then goes live: no gap and no duplicate while a writer commits during the replay", async () => {
    const chat = await createChat("replay");
    const services = t.app.services;
    // 600 events before anyone subscribes: more than one replay page (500).
    const batch = await services.traces.recordBatch(Array.from({ length: 300 }, (_, i) => ({ chatId: chat.uuid, toolName: `t${i % 5}`, toolInput: { i } })));
    expect(await eventSeqOf(chat.uuid)).toBe(601);

    // A writer commits traces (starts and finishes) while the client subscribes with the old cursor,
    // and goes on until well after the stream has opened: the handover happens under writes.
    let opened = false;
    let written = 0;
    let writtenAfterOpening = 0;
    const writer = (async () => {
      const running: string[] = [];
      for (let i = 0; i < 2000 && writtenAfterOpening < 60; i++) {
        if (i % 3 === 2) await services.traces.finish({ traceId: running.shift()!, output: `out ${i}` });
        else running.push((await services.traces.start({ chatId: chat.uuid, toolName: "writer", toolInput: { i } })).id);
        written++;
        if (opened) writtenAfterOpening++;
        // An agent's pace, not a tight loop: on PGlite's one connection a tight loop of transactions
        // keeps other readers waiting (the stream's opening read among them).
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    while (written < 10) await new Promise((r) => setTimeout(r, 5));
    const sub = subscribe(client(), STREAM, { c: chat.id, after: chat.eventCursor });
    const [opening] = await sub.until((all) => all.length >= 1, ARRIVAL_MS);
    opened = true;
    expect(opening!.data!.chatEvents.__typename).toBe("ChatStreamOpening");
    expect(opening!.data!.chatEvents.seq).toBeGreaterThanOrEqual(611);
    await writer;
    expect(writtenAfterOpening).toBe(60);
    // The writer's last event arrives with nothing after it to reveal a hole.
    const writerLast = await eventSeqOf(chat.uuid);
    await sub.until(() => events(sub).some((e) => e.seq === writerLast), ARRIVAL_MS);

    const last = await fence(sub, chat.uuid);
    const expected = await logAfter(chat.uuid, 1);
    expect(expected.map((e) => e.seq)).toEqual(Array.from({ length: last - 1 }, (_, i) => i + 2));
    expectExactly(sub, expected);
    expect(events(sub)[0].trace.uuid).toBe(batch[0]!.id);
    sub.dispose();

    // Any event's cursor resumes right after that event; so does the opening's.
    const middle = events(sub)[449];
    const resumed = subscribe(client(), STREAM, { c: chat.id, after: middle.cursor });
    await resumed.until((all) => all.length >= 1, ARRIVAL_MS);
    const end = await fence(resumed, chat.uuid);
    expectExactly(resumed, await logAfter(chat.uuid, middle.seq));
    expect(events(resumed)[0].seq).toBe(middle.seq + 1);
    expect(events(resumed).at(-1).seq).toBe(end);
    resumed.dispose();

    const fromOpening = subscribe(client(), STREAM, { c: chat.id, after: opening!.data!.chatEvents.cursor });
    await fromOpening.until((all) => all.length >= 1, ARRIVAL_MS);
    await fence(fromOpening, chat.uuid);
    expectExactly(fromOpening, await logAfter(chat.uuid, opening!.data!.chatEvents.seq));
    fromOpening.dispose();
  }, 180_000);

  test("Chat.eventCursor, read with the chat's traces while a writer commits, then used as `after`, misses nothing", async () => {
    const chat = await createChat("eventCursor");
    const services = t.app.services;
    // A writer goes on until well after the client has queried and subscribed.
    let subscribed = false;
    let writtenAfter = 0;
    const writer = (async () => {
      for (let i = 0; i < 2000 && writtenAfter < 20; i++) {
        const trace = await services.traces.start({ chatId: chat.uuid, toolName: "w", toolInput: { i } });
        if (i % 2 === 0) await services.traces.finish({ traceId: trace.id, output: `${i}` });
        if (subscribed) writtenAfter++;
        await new Promise((r) => setTimeout(r, 2)); // an agent's pace (see the replay test)
      }
    })();
    while ((await eventSeqOf(chat.uuid)) < 15) await new Promise((r) => setTimeout(r, 5));
    const queried = await execute(
      t.app,
      `query($c: ID!) { chat(id: $c) { eventCursor traces(first: 500) { edges { node { uuid status } } } } }`,
      { c: chat.id },
    );
    expect(queried.errors).toBeUndefined();
    const { eventCursor, traces } = queried.data!.chat;
    // The client's view: traces by id, upserted by every event after the cursor.
    const view = new Map<string, string>(traces.edges.map((e: { node: { uuid: string; status: string } }) => [e.node.uuid, e.node.status]));
    const sub = subscribe(client(), STREAM, { c: chat.id, after: eventCursor });
    await sub.until((all) => all.length >= 1, ARRIVAL_MS);
    subscribed = true;
    await writer;
    const writerLast = await eventSeqOf(chat.uuid);
    await sub.until(() => events(sub).some((e) => e.seq === writerLast), ARRIVAL_MS);
    await fence(sub, chat.uuid);

    // The cursor's own position (white-box: its body is base64url JSON): the replay starts right after it.
    const cursorSeq = JSON.parse(Buffer.from(eventCursor.split(".")[0], "base64url").toString("utf8")).p[0] as number;
    expect(cursorSeq).toBeGreaterThanOrEqual(15);
    expect(events(sub)[0].seq).toBe(cursorSeq + 1);
    expectExactly(sub, await logAfter(chat.uuid, cursorSeq));
    for (const e of events(sub)) if (e.trace) view.set(e.trace.uuid, e.trace.status);
    const stored = await db.prisma.toolTrace.findMany({ where: { chatId: chat.uuid }, select: { id: true, status: true } });
    expect(stored.length).toBeGreaterThanOrEqual(20);
    expect(Object.fromEntries(view)).toEqual(Object.fromEntries(stored.map((s) => [s.id, s.status])));
    sub.dispose();
  }, 120_000);
});

describe("the end of a chat", () => {
  test("chat_deleted is the last message: the stream completes, and so do the live-only filters", async () => {
    const chat = await createChat("doomed");
    const c = client();
    const sub = subscribe(c, STREAM, { c: chat.id });
    await sub.until((all) => all.length >= 1, ARRIVAL_MS);
    const live = subscribe(c, `subscription($c: ID!) { toolTraceStarted(chatId: $c) { uuid } }`, { c: chat.id });
    await mutate(`mutation($c: ID!) { startToolTrace(input: {chatId: $c, toolName: "x"}) { __typename } }`, { c: chat.id });
    await sub.until(() => events(sub).length >= 1, ARRIVAL_MS);
    await mutate(`mutation($c: ID!) { deleteChat(id: $c) { __typename ... on DeleteChatPayload { deletedUuid } } }`, { c: chat.id });

    await sub.until(() => sub.completed, ARRIVAL_MS);
    expect(sub.completed).toBe(true);
    expect(sub.received.every((r) => !r.errors)).toBe(true);
    expect(events(sub).map((e) => [e.seq, e.kind])).toEqual([
      [2, "trace_started"],
      [3, "chat_deleted"],
    ]);
    expect(events(sub)[1]).toMatchObject({ subjectId: chat.uuid, chat: null, trace: null, revision: null });
    await live.until(() => live.completed, ARRIVAL_MS);
    expect(live.completed).toBe(true);

    // The chat is gone: a new subscription is refused.
    expect(await subscriptionErrorCodes({ c: chat.id })).toEqual(["NOT_FOUND"]);
  });
});

describe("refusals", () => {
  test("a cursor of another chat, of another list, forged, malformed or ahead of the chat is INVALID_CURSOR; an unknown chat is NOT_FOUND", async () => {
    const chat = await createChat("refusals");
    const other = await createChat("refusals, other");
    await mutate(`mutation($c: ID!) { startToolTrace(input: {chatId: $c, toolName: "x"}) { __typename } }`, { c: chat.id });
    const traces = await execute(t.app, `query($c: ID!) { chat(id: $c) { traces(first: 1) { edges { cursor } } } }`, { c: chat.id });
    const traceCursor = traces.data!.chat.traces.edges[0].cursor as string;

    // Forged: the body says seq 0 of this chat, but the signature is another's.
    const [body, mac] = chat.eventCursor.split(".");
    const decoded = JSON.parse(Buffer.from(body!, "base64url").toString("utf8"));
    const forgedBody = Buffer.from(JSON.stringify({ ...decoded, p: [0] })).toString("base64url");
    // Ahead: correctly signed with the server's secret, but past the chat's latest event.
    const ahead = encodeCursor(t.config.CURSOR_SECRET, { list: "chatEvents", parentId: chat.uuid, order: "seq" }, [99]);
    // The same position signed with another secret.
    const otherSecret = encodeCursor("not-the-server-secret", { list: "chatEvents", parentId: chat.uuid, order: "seq" }, [1]);

    for (const after of [other.eventCursor, traceCursor, `${forgedBody}.${mac}`, otherSecret, "not-a-cursor", `${body}`, ahead]) {
      expect(await subscriptionErrorCodes({ c: chat.id, after }), after).toEqual(["INVALID_CURSOR"]);
    }
    // The same cursors are good where they belong.
    const own = subscribe(client(), STREAM, { c: other.id, after: other.eventCursor });
    await own.until((all) => all.length >= 1, ARRIVAL_MS);
    expect(own.received[0]!.data!.chatEvents).toMatchObject({ __typename: "ChatStreamOpening", seq: 1 });
    own.dispose();

    expect(await subscriptionErrorCodes({ c: "0190a3c5-0000-7000-8000-000000000000" })).toEqual(["NOT_FOUND"]);
    expect(await subscriptionErrorCodes({ c: "0190a3c5-0000-7000-8000-000000000000", after: chat.eventCursor })).toEqual(["NOT_FOUND"]);
    expect(await subscriptionErrorCodes({ c: "not a chat id" })).toEqual(["BAD_USER_INPUT"]);
  });
});
