// Regression tests of an outside probe, through the whole API (Yoga in process, and graphql-ws over
// a real socket), on both backends: each bad input is answered with a typed error or a known code,
// never "Unexpected error.", and writes nothing.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { signedCursor } from "../../server/schema/cursors.js";
import { MAX_JSON_DEPTH } from "../../server/services/validation.js";
import { execute, type GraphQLResponse, startTestApp, subscribe, type TestApp, wsClients } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";

let db: TestDatabase;
let t: TestApp;
beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
});
const { client, disposeAll } = wsClients(() => t.wsUrl);
afterAll(async () => {
  await disposeAll();
  await t?.stop();
  await db?.destroy();
});

const run = (query: string, variables?: Record<string, unknown>) => execute(t.app, query, variables);
const codes = (response: GraphQLResponse) => (response.errors ?? []).map((e) => e.extensions?.code);

/** Runs a request that must be refused with `code`, and proves it wrote nothing. */
async function refusedWith(code: string, request: () => Promise<GraphQLResponse>): Promise<GraphQLResponse> {
  const before = await databaseFingerprint(db.prisma);
  const response = await request();
  expect(codes(response), JSON.stringify(response)).toEqual([code]);
  expect(response.errors!.map((e) => e.message)).not.toContain("Unexpected error.");
  expect(await databaseFingerprint(db.prisma)).toEqual(before);
  return response;
}

async function newChat(): Promise<{ id: string; uuid: string }> {
  const response = await run(`mutation { createChat(input: {title: "probe"}) { ... on Chat { id uuid } } }`);
  return response.data!.createChat;
}

const START = `mutation($input: StartToolTraceInput!) {
  startToolTrace(input: $input) {
    __typename
    ... on ToolTrace { uuid toolName toolInput startedAt }
    ... on ValidationError { issues { path message } }
  }
}`;

describe("node(id) and nodes(ids)", () => {
  const globalId = (text: string) => Buffer.from(text).toString("base64");

  test.each([
    ["a Chat whose id is not a UUID", "Chat:not-a-uuid"],
    ["a ToolTrace whose id is a number", "ToolTrace:1"],
    ["a SnapshotRevision with an empty-looking id", "SnapshotRevision: "],
    ["a Chat with a UUID and more", "Chat:0b9a3e34-7a0e-4c43-9b0e-7f8c1e0d2a11:x"],
    ["a type that is not a node", "Foo:0b9a3e34-7a0e-4c43-9b0e-7f8c1e0d2a11"],
    ["a type that exists but is no node", "ChatStats:0b9a3e34-7a0e-4c43-9b0e-7f8c1e0d2a11"],
  ])("%s is BAD_USER_INPUT", async (_, text) => {
    await refusedWith("BAD_USER_INPUT", () => run(`query($id: ID!) { node(id: $id) { id } }`, { id: globalId(text) }));
    await refusedWith("BAD_USER_INPUT", () => run(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [globalId(text)] }));
  });

  test("one bad id among good ones is BAD_USER_INPUT; good ones (any case) resolve", async () => {
    const chat = await newChat();
    await refusedWith("BAD_USER_INPUT", () => run(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [chat.id, globalId("Chat:not-a-uuid")] }));
    const upper = encodeGlobalID("Chat", chat.uuid.toUpperCase());
    const response = await run(`query($ids: [ID!]!) { nodes(ids: $ids) { ... on Chat { uuid } } }`, { ids: [chat.id, upper] });
    expect(response).toEqual({ data: { nodes: [{ uuid: chat.uuid }, { uuid: chat.uuid }] } });
  });
});

describe("DateTime", () => {
  test.each([
    ["a day February does not have", "2024-02-30T00:00:00Z", "has day 30, but February 2024 has 29 days"],
    ["no zone", "2024-02-01T00:00:00", "must be an RFC 3339 date-time with a zone"],
    ["year 0", "0000-01-01T00:00:00Z", "is before the storable range"],
    ["a leap second", "2016-12-31T23:59:60Z", "is a leap second"],
  ])("%s is BAD_USER_INPUT naming what is wrong", async (_, startedAt, problem) => {
    const chat = await newChat();
    const response = await refusedWith("BAD_USER_INPUT", () => run(START, { input: { chatId: chat.id, toolName: "t", startedAt } }));
    expect(response.errors![0]!.message).toContain(problem);
  });

  test("an offset and digits beyond milliseconds are taken as the instant they name, truncated", async () => {
    const chat = await newChat();
    const response = await run(START, { input: { chatId: chat.id, toolName: "t", startedAt: "2024-02-29T23:30:00.123999+02:00" } });
    expect(response.data!.startToolTrace).toMatchObject({ __typename: "ToolTrace", startedAt: "2024-02-29T21:30:00.123Z" });
  });

  test("a trace filter's DateTime is checked the same way", async () => {
    const chat = await newChat();
    const query = `query($id: ID!, $f: DateTime) { chat(id: $id) { traces(first: 1, filter: {startedFrom: $f}) { totalCount } } }`;
    await refusedWith("BAD_USER_INPUT", () => run(query, { id: chat.id, f: "2023-02-29T00:00:00Z" }));
  });
});

describe("cursors", () => {
  let chat: { id: string; uuid: string };
  const sign = (body: string) => signedCursor(t.config.CURSOR_SECRET, body);
  /** The scope part of a real cursor of the list: forged bodies carrying it reach the position check. */
  const scopeOf = (cursor: string) => JSON.parse(Buffer.from(cursor.split(".")[0]!, "base64url").toString()).s as string;
  const TRACES = `query($id: ID!, $a: String) { chat(id: $id) { traces(first: 2, after: $a) { edges { cursor } } } }`;
  const SNAPSHOTS = `query($id: ID!, $a: String) { chat(id: $id) { snapshots(first: 2, after: $a) { edges { cursor } } } }`;
  const CHATS = `query($a: String) { chats(first: 2, after: $a) { edges { cursor } } }`;

  beforeAll(async () => {
    chat = await newChat();
    await run(START, { input: { chatId: chat.id, toolName: "t" } });
    await run(`mutation($c: ID!) { saveSnapshot(input: {chatId: $c, state: {}}) { __typename } }`, { c: chat.id });
  });

  test("a signed body that is not JSON, or not a cursor's shape, is INVALID_CURSOR on every list", async () => {
    for (const body of ["not json", "[]", "{}", `{"s":"x","p":"y"}`, `{"s":null,"p":[]}`]) {
      await refusedWith("INVALID_CURSOR", () => run(TRACES, { id: chat.id, a: sign(body) }));
      await refusedWith("INVALID_CURSOR", () => run(SNAPSHOTS, { id: chat.id, a: sign(body) }));
      await refusedWith("INVALID_CURSOR", () => run(CHATS, { a: sign(body) }));
    }
  });

  test("a signed position of the wrong types for its list is INVALID_CURSOR", async () => {
    const traces = scopeOf((await run(TRACES, { id: chat.id })).data!.chat.traces.edges[0].cursor);
    for (const p of [["2026-01-01T00:00:00Z", chat.uuid], [1, "x"], ["a", "b"], [1e300, chat.uuid], [1]]) {
      await refusedWith("INVALID_CURSOR", () => run(TRACES, { id: chat.id, a: sign(JSON.stringify({ s: traces, p })) }));
    }
    const snapshots = scopeOf((await run(SNAPSHOTS, { id: chat.id })).data!.chat.snapshots.edges[0].cursor);
    for (const p of [["1"], [1e12], [-1]]) {
      await refusedWith("INVALID_CURSOR", () => run(SNAPSHOTS, { id: chat.id, a: sign(JSON.stringify({ s: snapshots, p })) }));
    }
    // The real scopes with a well-typed position page normally.
    expect((await run(SNAPSHOTS, { id: chat.id, a: sign(JSON.stringify({ s: snapshots, p: [5] })) })).data!.chat.snapshots.edges).toHaveLength(1);
  });

  test("chatEvents over WebSocket: a signed seq that is not a whole number is INVALID_CURSOR", async () => {
    const scope = scopeOf((await run(`query($id: ID!) { chat(id: $id) { eventCursor } }`, { id: chat.id })).data!.chat.eventCursor);
    for (const after of [sign("nope"), sign(JSON.stringify({ s: scope, p: ["1"] })), sign(JSON.stringify({ s: scope, p: [0.5] }))]) {
      const sub = subscribe(client(), `subscription($c: ID!, $a: String) { chatEvents(chatId: $c, after: $a) { __typename } }`, { c: chat.id, a: after });
      const items = await sub.until((all) => all.some((r) => r.errors), 60_000);
      expect(items.flatMap((r) => r.errors ?? []).map((e) => e.extensions?.code)).toEqual(["INVALID_CURSOR"]);
      sub.dispose();
    }
  });
});

describe("JSON inputs", () => {
  test("lone surrogates in toolInput, state and batch items are stored as U+FFFD, over HTTP and WebSocket", async () => {
    const chat = await newChat();
    const toolInput = { "k\uD800": ["\uDC00", { x: "a\uD83D" }] };
    const stored = { "k\uFFFD": ["\uFFFD", { x: "a\uFFFD" }] };
    const started = await run(START, { input: { chatId: chat.id, toolName: "t\uDFFF", toolInput } });
    expect(started.data!.startToolTrace).toMatchObject({ __typename: "ToolTrace", toolName: "t\uFFFD", toolInput: stored });

    const SAVE = `mutation($input: SaveSnapshotInput!) { saveSnapshot(input: $input) { __typename ... on SnapshotRevision { state } } }`;
    expect((await run(SAVE, { input: { chatId: chat.id, state: toolInput } })).data!.saveSnapshot).toEqual({ __typename: "SnapshotRevision", state: stored });

    const RECORD = `mutation($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { __typename ... on RecordToolTracesPayload { traces { toolInput } } } }`;
    const recorded = await run(RECORD, { input: { items: [{ chatId: chat.id, toolName: "a", toolInput }, { chatId: chat.id, toolName: "b", toolInput: { ok: "\uD800\uD800" } }] } });
    expect(recorded.data!.recordToolTraces.traces).toEqual([{ toolInput: stored }, { toolInput: { ok: "\uFFFD\uFFFD" } }]);

    const overSocket = subscribe(client(), START, { input: { chatId: chat.id, toolName: "ws", toolInput } });
    const [result] = await overSocket.until((all) => all.length >= 1, 60_000);
    expect(result!.data!.startToolTrace).toMatchObject({ __typename: "ToolTrace", toolInput: stored });
    overSocket.dispose();
  });

  test("a toolInput 5,000 levels deep is a ValidationError on input.toolInput, not a crash", async () => {
    const chat = await newChat();
    // Written by hand: JSON.stringify itself recurses.
    const deep = `${'{"a":'.repeat(5000)}1${"}".repeat(5000)}`;
    const body = `{"query":${JSON.stringify(START)},"variables":{"input":{"chatId":${JSON.stringify(chat.id)},"toolName":"t","toolInput":${deep}}}}`;
    const before = await databaseFingerprint(db.prisma);
    const response = await t.app.yoga.fetch("http://tracedeck.test/graphql", { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(await response.json()).toEqual({
      data: { startToolTrace: { __typename: "ValidationError", issues: [{ path: ["input", "toolInput"], message: `is nested 5000 levels deep; the limit is ${MAX_JSON_DEPTH}` }] } },
    });
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
  });
});

describe("finishToolTrace", () => {
  test("a traceId with another chat's id is a ValidationError on input.chatId, and finishes nothing", async () => {
    const chat = await newChat();
    const other = await newChat();
    const trace = (await run(START, { input: { chatId: chat.id, toolName: "t", toolCallId: "c1" } })).data!.startToolTrace;
    const before = await databaseFingerprint(db.prisma);
    const response = await run(
      `mutation($input: FinishToolTraceInput!) { finishToolTrace(input: $input) { __typename ... on ValidationError { issues { path } } } }`,
      { input: { traceId: trace.uuid, chatId: other.id, toolCallId: "c1", output: "x" } },
    );
    expect(response.data!.finishToolTrace).toEqual({ __typename: "ValidationError", issues: [{ path: ["input", "chatId"] }] });
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
  });
});
