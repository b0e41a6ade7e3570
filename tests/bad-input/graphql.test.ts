// Bad input inside well-formed GraphQL requests (JSON POST under the server's own Host): values the
// schema's coercion refuses (DateTime, Int, enums), ids and cursors the resolvers must refuse with a
// code rather than mask, and mutation inputs that must come back as typed errors with the path of
// the bad field. Each case: the answer, nothing written, /healthz still 200.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ERROR_FIELDS } from "../helpers/graphql-fixtures.js";
import { badInputCase, errorsOfBody, expectHealthy, type Harness, postGraphQL, type RawResponse, startHarness, stopHarness } from "./harness.js";

let h: Harness;

/** JSON text spliced into a request as is: V8's JSON.stringify cannot write a value nested 5,000 deep. */
class RawJson {
  constructor(readonly text: string) {}
}
const serialise = (payload: unknown): string => {
  const raws: string[] = [];
  const text = JSON.stringify(payload, (_key, value) => (value instanceof RawJson ? `\u0000raw${raws.push(value.text) - 1}\u0000` : value));
  return text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)]!);
};
const gql = (query: string, variables?: Record<string, unknown>) => postGraphQL(h.t.url, serialise({ query, variables }));

const START = `mutation($input: StartToolTraceInput!) { startToolTrace(input: $input) { ${ERROR_FIELDS} ... on ToolTrace { id uuid toolName toolInput } } }`;
const FINISH = `mutation($input: FinishToolTraceInput!) { finishToolTrace(input: $input) { ${ERROR_FIELDS} ... on ToolTrace { id status } } }`;
const RECORD = `mutation($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { ${ERROR_FIELDS} ... on RecordToolTracesPayload { traces { id } } } }`;
const SAVE = `mutation($input: SaveSnapshotInput!) { saveSnapshot(input: $input) { ${ERROR_FIELDS} ... on SnapshotRevision { id turn } } }`;
const RESTORE = `mutation($chatId: ID!, $turn: Int!) { restoreSnapshot(chatId: $chatId, turn: $turn) { ${ERROR_FIELDS} ... on RestoreSnapshotPayload { nextTurn } } }`;
const RENAME = `mutation($id: ID!, $title: String!) { renameChat(id: $id, title: $title) { ${ERROR_FIELDS} ... on Chat { title } } }`;
const DELETE_CHAT = `mutation($id: ID!) { deleteChat(id: $id) { ${ERROR_FIELDS} ... on DeleteChatPayload { deletedUuid } } }`;
const DELETE_SNAPSHOT = `mutation($id: ID!) { deleteSnapshot(revisionId: $id) { ${ERROR_FIELDS} ... on DeleteSnapshotPayload { deletedUuid } } }`;
const CREATE = `mutation($input: CreateChatInput) { createChat(input: $input) { ${ERROR_FIELDS} ... on Chat { id uuid } } }`;
const TRACES = `query($id: ID!, $first: Int, $last: Int, $after: String, $before: String) {
  chat(id: $id) { traces(first: $first, last: $last, after: $after, before: $before) { edges { cursor node { uuid } } pageInfo { endCursor } } }
}`;
const NODE = `query($id: ID!) { node(id: $id) { id } }`;

const MISSING_UUID = "00000000-0000-4000-8000-00000000abcd";
const b64 = (text: string) => Buffer.from(text).toString("base64");

interface Chat {
  id: string;
  uuid: string;
}
let chatA: Chat;
let chatB: Chat;
/** Running traces of chat A: each case that names one has its own, so a wrongly accepted finish cannot change another case. */
let running: { id: string; uuid: string }[];
/** A running trace of chat A with a client-given startedAt. */
let dated: { id: string };
let traceCursorA: string;
let revisionA: string;

async function created(title: string): Promise<Chat> {
  const response = await gql(CREATE, { input: { title } });
  expect(response.json?.data?.createChat?.__typename, response.text).toBe("Chat");
  return response.json.data.createChat;
}
async function started(input: Record<string, unknown>): Promise<{ id: string; uuid: string }> {
  const response = await gql(START, { input });
  expect(response.json?.data?.startToolTrace?.__typename, response.text).toBe("ToolTrace");
  return response.json.data.startToolTrace;
}

beforeAll(async () => {
  h = await startHarness();
  chatA = await created("bad-input graphql A");
  chatB = await created("bad-input graphql B");
  running = [];
  for (let i = 0; i < 15; i++) running.push(await started({ chatId: chatA.id, toolName: "run", toolCallId: `call_r${i}`, toolInput: { i } }));
  dated = await started({ chatId: chatA.id, toolName: "dated", toolCallId: "call_dated", startedAt: "2026-01-01T00:00:10.000Z" });
  const recorded = await gql(RECORD, {
    input: { items: [...["a", "b", "c"].map((toolName) => ({ chatId: chatA.id, toolName })), { chatId: chatB.id, toolName: "b1" }, { chatId: chatB.id, toolName: "b2" }] },
  });
  expect(recorded.json?.data?.recordToolTraces?.__typename, recorded.text).toBe("RecordToolTracesPayload");
  const saved = await gql(SAVE, { input: { chatId: chatA.id, state: { messages: ["hi"] } } });
  expect(saved.json?.data?.saveSnapshot?.__typename, saved.text).toBe("SnapshotRevision");
  revisionA = saved.json.data.saveSnapshot.id;
  const page = await gql(TRACES, { id: chatA.id, first: 2 });
  traceCursorA = page.json.data.chat.traces.pageInfo.endCursor;
  expect(traceCursorA).toMatch(/^[\w-]+\.[\w-]+$/);
});
afterAll(async () => {
  await stopHarness(h);
});

/** The mutation's typed error: HTTP 200, no GraphQL errors, one of `typenames`, and (when given) the issue paths. */
function expectTyped(response: RawResponse, typenames: string[], paths?: string[][] | ((paths: string[][]) => boolean)): Record<string, any> {
  expect.soft(response.status, `status (body: ${response.text.slice(0, 300)})`).toBe(200);
  expect(response.json?.errors, `no GraphQL errors: ${response.text.slice(0, 500)}`).toBeUndefined();
  const result = Object.values(response.json?.data ?? {})[0] as Record<string, any> | undefined;
  expect(typenames, `a typed error result: ${JSON.stringify(result).slice(0, 500)}`).toContain(result?.__typename);
  expect(typeof result!.message).toBe("string");
  if (paths) {
    expect(result!.__typename).toBe("ValidationError");
    // Several messages about one field count once: the paths are what is asserted.
    const got = [...new Set((result!.issues as { path: string[] }[]).map((i) => JSON.stringify(i.path)))].map((p) => JSON.parse(p) as string[]);
    if (typeof paths === "function") expect(paths(got), `issue paths ${JSON.stringify(got)}`).toBe(true);
    else expect(got).toEqual(paths);
  }
  return result!;
}

/** Refused by the schema before any resolver: 200 or 400, errors, no data, a message matching. */
function expectCoercionError(response: RawResponse, message: RegExp): void {
  expect.soft([200, 400], `status (body: ${response.text.slice(0, 300)})`).toContain(response.status);
  const errors = errorsOfBody(response);
  expect(response.json.data ?? null, "no data").toBeNull();
  expect(errors.some((e) => message.test(e.message)), `an error matching ${message}: ${JSON.stringify(errors).slice(0, 500)}`).toBe(true);
  // Yoga codes a variable it cannot coerce as BAD_USER_INPUT; a masked error would be INTERNAL_SERVER_ERROR.
  for (const e of errors) expect(["BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", undefined], e.message).toContain(e.extensions?.code);
}

/** A field error with exactly this code: HTTP 200 (the response has data), the field null. */
function expectFieldError(response: RawResponse, code: string, field: string): void {
  expect.soft(response.status, `status (body: ${response.text.slice(0, 300)})`).toBe(200);
  const errors = errorsOfBody(response);
  expect(
    errors.map((e) => e.extensions?.code),
    JSON.stringify(errors).slice(0, 500),
  ).toEqual([code]);
  expect(errors[0]!.message).not.toBe("Unexpected error.");
  expect(response.json.data?.[field] ?? null, "no partial result").toBeNull();
}

/** A JSON value `depth` levels deep (lists and objects in turn), as text. */
const nested = (depth: number): RawJson => {
  // Level 0 (innermost) is a list, level 1 an object, and so on out to level depth - 1.
  const levels = Array.from({ length: depth }, (_, i) => i);
  const opens = [...levels].reverse().map((i) => (i % 2 === 0 ? "[" : '{"n":'));
  const closes = levels.map((i) => (i % 2 === 0 ? "]" : "}"));
  return new RawJson(`${opens.join("")}"bottom"${closes.join("")}`);
};
const endsWith = (last: string, prefix: string[] = ["input"]) => (paths: string[][]) =>
  paths.length > 0 && paths.every((p) => p.at(-1) === last && prefix.every((s, i) => p[i] === s));

describe("DateTime values the scalar must refuse (variable coercion; nothing written)", () => {
  const bad: [string, unknown][] = [
    ["February 30th", "2024-02-30T00:00:00Z"],
    ["no time zone", "2024-01-01T00:00:00"],
    ["year 0000", "0000-01-01T00:00:00Z"],
    ["month 13", "2024-13-01T00:00:00Z"],
    ["hour 25", "2024-01-01T25:00:00Z"],
    ["a word", "yesterday"],
    ["an empty string", ""],
    ["a number", 1_704_067_200_000],
  ];
  test.each(bad)("startToolTrace startedAt: %s", async (_label, value) => {
    const response = await badInputCase(h, () => gql(START, { input: { chatId: chatA.id, toolName: "dt", startedAt: value } }));
    expectCoercionError(response, /DateTime|startedAt/);
  });
  test.each([
    [bad[0]![0], bad[0]![1], 4],
    [bad[1]![0], bad[1]![1], 5],
    [bad[2]![0], bad[2]![1], 6],
  ] as [string, unknown, number][])("finishToolTrace finishedAt: %s", async (_label, value, trace) => {
    const response = await badInputCase(h, () => gql(FINISH, { input: { traceId: running[trace]!.id, finishedAt: value } }));
    expectCoercionError(response, /DateTime|finishedAt/);
  });
  test.each([bad[0]!, bad[3]!])("recordToolTraces items.1.startedAt: %s (the whole batch refused)", async (_label, value) => {
    const response = await badInputCase(h, () =>
      gql(RECORD, { input: { items: [{ chatId: chatA.id, toolName: "ok" }, { chatId: chatA.id, toolName: "dt", startedAt: value }] } }),
    );
    expectCoercionError(response, /DateTime|startedAt/);
  });
});

describe("other values the schema refuses before a resolver runs", () => {
  const cases: [string, () => [string, Record<string, unknown>], RegExp][] = [
    ["a float token count in an Int field", () => [FINISH, { input: { traceId: running[7]!.id, tokens: { input: 1.5 } } }], /Int/],
    ["a token count past 32 bits in an Int field", () => [FINISH, { input: { traceId: running[8]!.id, tokens: { output: 2 ** 40 } } }], /Int/],
    ["a turnNumber of 2^31", () => [START, { input: { chatId: chatA.id, toolName: "x", turnNumber: 2 ** 31 } }], /Int/],
    ["a status outside the FinishStatus enum", () => [FINISH, { input: { traceId: running[9]!.id, status: "ok" } }], /FinishStatus|status/],
    ["a field the input type does not have", () => [START, { input: { chatId: chatA.id, toolName: "x", dropTable: true } }], /dropTable/],
    ["a required input left out", () => [START, {}], /\$input|input/],
    ["toolName null", () => [START, { input: { chatId: chatA.id, toolName: null } }], /toolName/],
    ["a JSON literal holding a variable", () => [`mutation($v: String) { startToolTrace(input: {chatId: "${chatA.uuid}", toolName: "x", toolInput: {a: $v}}) { __typename } }`, { v: "x" }], /JSON|variable|toolInput|"input"/i],
  ];
  test.each(cases)("%s", async (_label, make, message) => {
    const [query, variables] = make();
    const response = await badInputCase(h, () => gql(query, variables));
    expectCoercionError(response, message);
  });
});

describe("node(id:) with an id that is not one: BAD_USER_INPUT, not a masked error", () => {
  const ids: [string, string][] = [
    ['base64("Chat:not-a-uuid")', b64("Chat:not-a-uuid")],
    ['base64("Nope:" + uuid)', b64(`Nope:${MISSING_UUID}`)],
    ["not-base64!!", "not-base64!!"],
    ["an empty string", ""],
    ['base64("ToolTrace:") (no id)', b64("ToolTrace:")],
  ];
  test.each(ids)("node(id: %s)", async (_label, id) => {
    const response = await badInputCase(h, () => gql(NODE, { id }));
    expectFieldError(response, "BAD_USER_INPUT", "node");
  });
  test("nodes(ids:) with one malformed id among good ones", async () => {
    const response = await badInputCase(h, () => gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [chatA.id, b64("Chat:not-a-uuid")] }));
    expect.soft(response.status).toBe(200);
    const errors = errorsOfBody(response);
    expect(errors.map((e) => e.extensions?.code), JSON.stringify(errors)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("cursors and page sizes", () => {
  const sign = (body: string) => createHmac("sha256", h.t.config.CURSOR_SECRET).update(body).digest("base64url").slice(0, 22);
  /** A cursor signed with the server's own secret, around any body: only the body can be wrong. */
  const signed = (text: string) => {
    const body = Buffer.from(text).toString("base64url");
    return `${body}.${sign(body)}`;
  };
  const scopeOfA = () => JSON.parse(Buffer.from(traceCursorA.split(".")[0]!, "base64url").toString("utf8")).s as string;

  test("control (not counted): the forging reproduces the server's own signature", () => {
    const [body, mac] = traceCursorA.split(".");
    expect(sign(body!)).toBe(mac);
  });

  const cursors: [string, () => string][] = [
    ["a random string", () => "bm90IGEgY3Vyc29y"],
    ["a cursor of another chat", () => traceCursorA],
    ["a tampered signature", () => `${traceCursorA.slice(0, -1)}${traceCursorA.endsWith("A") ? "B" : "A"}`],
    ["a validly signed body that is not JSON", () => signed("this is not json")],
    ["a validly signed JSON body of the right scope whose position is not a list", () => signed(JSON.stringify({ s: scopeOfA(), p: "not a position" }))],
    ["a validly signed JSON body of the right scope whose position has the wrong types", () => signed(JSON.stringify({ s: scopeOfA(), p: [{ $gt: 1 }, ["x"]] }))],
    ["a validly signed JSON null", () => signed("null")],
  ];
  test.each(cursors)("traces(after: %s) is INVALID_CURSOR", async (label, cursor) => {
    // The cross-chat cursor is used on chat B; every other on chat A, the chat it claims to be for.
    const id = label === "a cursor of another chat" ? chatB.id : chatA.id;
    const response = await badInputCase(h, () => gql(TRACES, { id, first: 5, after: cursor() }));
    expectFieldError(response, "INVALID_CURSOR", "chat");
  });
  test("traces(before: a validly signed position of the wrong types) is INVALID_CURSOR", async () => {
    const response = await badInputCase(h, () => gql(TRACES, { id: chatA.id, last: 5, before: signed(JSON.stringify({ s: scopeOfA(), p: ["yesterday", 42] })) }));
    expectFieldError(response, "INVALID_CURSOR", "chat");
  });
  test("chats(after: a traces cursor) is INVALID_CURSOR", async () => {
    const response = await badInputCase(h, () => gql(`query($a: String) { chats(first: 2, after: $a) { edges { cursor } } }`, { a: traceCursorA }));
    expectFieldError(response, "INVALID_CURSOR", "chats");
  });

  const sizes: [string, Record<string, unknown>][] = [
    ["first: 501", { first: 501 }],
    ["first: -1", { first: -1 }],
    ["last: 501", { last: 501 }],
  ];
  test.each(sizes)("traces(%s) is PAGE_SIZE_INVALID", async (_label, args) => {
    const response = await badInputCase(h, () => gql(TRACES, { id: chatA.id, ...args }));
    expectFieldError(response, "PAGE_SIZE_INVALID", "chat");
  });
  test("chats(first: 100000) is PAGE_SIZE_INVALID", async () => {
    const response = await badInputCase(h, () => gql(`{ chats(first: 100000) { edges { cursor } } }`));
    expectFieldError(response, "PAGE_SIZE_INVALID", "chats");
  });
});

describe("mutations: typed errors with the path of the bad field, nothing written", () => {
  type Case = [string, () => [string, Record<string, unknown>], string[], (string[][] | ((paths: string[][]) => boolean))?];
  const cases: Case[] = [
    ["startToolTrace in an unknown chat", () => [START, { input: { chatId: MISSING_UUID, toolName: "x" } }], ["NotFoundError"]],
    ["startToolTrace with a chatId that is not a uuid", () => [START, { input: { chatId: "not-a-uuid", toolName: "x" } }], ["ValidationError"], [["input", "chatId"]]],
    ["startToolTrace with a global id of another type", () => [START, { input: { chatId: b64(`ToolTrace:${MISSING_UUID}`), toolName: "x" } }], ["ValidationError"], [["input", "chatId"]]],
    ["startToolTrace with an empty toolName", () => [START, { input: { chatId: chatA.id, toolName: "" } }], ["ValidationError"], [["input", "toolName"]]],
    ["startToolTrace with a 257-character toolName", () => [START, { input: { chatId: chatA.id, toolName: "t".repeat(257) } }], ["ValidationError"], [["input", "toolName"]]],
    ["startToolTrace with turnNumber 0", () => [START, { input: { chatId: chatA.id, toolName: "x", turnNumber: 0 } }], ["ValidationError"], [["input", "turnNumber"]]],
    ["startToolTrace with a negative turnNumber", () => [START, { input: { chatId: chatA.id, toolName: "x", turnNumber: -3 } }], ["ValidationError"], [["input", "turnNumber"]]],
    ["startToolTrace with a sessionId that is not a uuid", () => [START, { input: { chatId: chatA.id, toolName: "x", sessionId: "session-1" } }], ["ValidationError"], [["input", "sessionId"]]],
    [
      "startToolTrace with a toolInput over TOOL_INPUT_MAX_BYTES",
      () => [START, { input: { chatId: chatA.id, toolName: "x", toolInput: { blob: "x".repeat(262_144) } } }],
      ["ValidationError"],
      [["input", "toolInput"]],
    ],
    ["startToolTrace with a toolInput nested 5,000 deep", () => [START, { input: { chatId: chatA.id, toolName: "x", toolInput: nested(5000) } }], ["ValidationError"], endsWith("toolInput")],
    [
      "startToolTrace repeating a started toolCallId with other fields",
      () => [START, { input: { chatId: chatA.id, toolName: "something else", toolCallId: "call_r0", toolInput: { i: 0 } } }],
      ["ConflictError"],
    ],
    ["finishToolTrace of an unknown trace", () => [FINISH, { input: { traceId: MISSING_UUID, output: "x" } }], ["NotFoundError"]],
    ["finishToolTrace by chatId and a toolCallId never started", () => [FINISH, { input: { chatId: chatA.id, toolCallId: "never-started", output: "x" } }], ["NotFoundError"]],
    ["finishToolTrace naming no trace", () => [FINISH, { input: { output: "x" } }], ["ValidationError"], (paths) => paths.length > 0 && paths.every((p) => p[0] === "input")],
    [
      "finishToolTrace with a traceId and the chatId of another chat",
      () => [FINISH, { input: { traceId: running[0]!.id, chatId: chatB.id, output: "x" } }],
      ["ValidationError", "ConflictError"],
    ],
    [
      "finishToolTrace with a traceId and another trace's toolCallId",
      () => [FINISH, { input: { traceId: running[1]!.id, toolCallId: "call_r2", output: "x" } }],
      ["ValidationError", "ConflictError"],
    ],
    ["finishToolTrace with a negative token count", () => [FINISH, { input: { traceId: running[10]!.id, tokens: { input: -1 } } }], ["ValidationError"], [["input", "tokens", "input"]]],
    [
      "finishToolTrace with a float token count in Anthropic's usage",
      () => [FINISH, { input: { traceId: running[11]!.id, tokens: { anthropic: { input_tokens: 1.5, output_tokens: 1 } } } }],
      ["ValidationError"],
      [["input", "tokens", "anthropic", "input_tokens"]],
    ],
    [
      "finishToolTrace with a token count past 32 bits in OpenAI's usage",
      () => [FINISH, { input: { traceId: running[12]!.id, tokens: { openai: { prompt_tokens: 1e12, completion_tokens: 1 } } } }],
      ["ValidationError"],
      [["input", "tokens", "openai", "prompt_tokens"]],
    ],
    [
      "finishToolTrace with two forms of usage",
      () => [FINISH, { input: { traceId: running[13]!.id, tokens: { input: 1, anthropic: { input_tokens: 1, output_tokens: 1 } } } }],
      ["ValidationError"],
      [["input", "tokens"]],
    ],
    ["finishToolTrace finishing before its client-given start", () => [FINISH, { input: { traceId: dated.id, finishedAt: "2026-01-01T00:00:09.000Z" } }], ["ValidationError"], [["input", "finishedAt"]]],
    ["finishToolTrace with a negative latencyMs", () => [FINISH, { input: { traceId: running[14]!.id, latencyMs: -5 } }], ["ValidationError"], [["input", "latencyMs"]]],
    [
      "recordToolTraces over MAX_BATCH_ITEMS (1,001 items)",
      () => [RECORD, { input: { items: Array.from({ length: 1001 }, (_, i) => ({ chatId: chatA.id, toolName: `t${i}` })) } }],
      ["ValidationError"],
      [["input", "items"]],
    ],
    [
      "recordToolTraces with one bad item (items.2 has an empty toolName)",
      () => [RECORD, { input: { items: [0, 1, 2, 3].map((i) => ({ chatId: chatA.id, toolName: i === 2 ? "" : `ok${i}` })) } }],
      ["ValidationError"],
      [["input", "items", "2", "toolName"]],
    ],
    [
      "recordToolTraces with an item's toolInput nested 5,000 deep",
      () => [RECORD, { input: { items: [{ chatId: chatA.id, toolName: "ok" }, { chatId: chatA.id, toolName: "deep", toolInput: nested(5000) }] } }],
      ["ValidationError"],
      endsWith("toolInput", ["input", "items", "1"]),
    ],
    [
      "recordToolTraces with an item finishing before it starts",
      () => [RECORD, { input: { items: [{ chatId: chatA.id, toolName: "x", startedAt: "2026-01-01T00:00:10.000Z", finishedAt: "2026-01-01T00:00:09.000Z" }] } }],
      ["ValidationError"],
      [["input", "items", "0", "finishedAt"]],
    ],
    [
      "recordToolTraces with an item in an unknown chat",
      () => [RECORD, { input: { items: [{ chatId: chatA.id, toolName: "ok" }, { chatId: MISSING_UUID, toolName: "lost" }] } }],
      ["NotFoundError"],
    ],
    ["saveSnapshot with turn 0", () => [SAVE, { input: { chatId: chatA.id, turn: 0, state: {} } }], ["ValidationError"], [["input", "turn"]]],
    ["saveSnapshot with a state that is a list", () => [SAVE, { input: { chatId: chatA.id, state: [1, 2, 3] } }], ["ValidationError"], [["input", "state"]]],
    ["saveSnapshot with a state nested 5,000 deep", () => [SAVE, { input: { chatId: chatA.id, state: { deep: nested(5000) } } }], ["ValidationError"], endsWith("state")],
    ["saveSnapshot of a closed turn with another state", () => [SAVE, { input: { chatId: chatA.id, turn: 1, state: { messages: ["changed"] } } }], ["ConflictError"]],
    ["saveSnapshot in an unknown chat", () => [SAVE, { input: { chatId: MISSING_UUID, state: {} } }], ["NotFoundError"]],
    ["restoreSnapshot of a turn never saved", () => [RESTORE, { chatId: chatA.id, turn: 99 }], ["NotFoundError"]],
    ["restoreSnapshot with a malformed chat id", () => [RESTORE, { chatId: "chat-a", turn: 1 }], ["ValidationError"], [["chatId"]]],
    ["renameChat with an empty title", () => [RENAME, { id: chatA.id, title: "" }], ["ValidationError"], [["title"]]],
    ["renameChat with a blank title", () => [RENAME, { id: chatA.id, title: "   " }], ["ValidationError"], [["title"]]],
    ["renameChat of an unknown chat", () => [RENAME, { id: MISSING_UUID, title: "x" }], ["NotFoundError"]],
    ["createChat with a 501-character title", () => [CREATE, { input: { title: "t".repeat(501) } }], ["ValidationError"], [["input", "title"]]],
    ["deleteChat of an unknown id", () => [DELETE_CHAT, { id: MISSING_UUID }], ["NotFoundError"]],
    ["deleteChat with a malformed id", () => [DELETE_CHAT, { id: "not an id" }], ["ValidationError"], [["id"]]],
    ["deleteSnapshot of an unknown revision", () => [DELETE_SNAPSHOT, { id: MISSING_UUID }], ["NotFoundError"]],
    ["deleteSnapshot of the current revision", () => [DELETE_SNAPSHOT, { id: revisionA }], ["ConflictError"]],
  ];
  test.each(cases)("%s", async (_label, make, typenames, paths) => {
    const [query, variables] = make();
    const response = await badInputCase(h, () => gql(query, variables));
    expectTyped(response, typenames, paths);
  });
});

describe("controls (not counted): lone UTF-16 surrogates are accepted and stored as U+FFFD", () => {
  test("in toolInput and toolName of startToolTrace", async () => {
    const response = await gql(START, { input: { chatId: chatB.id, toolName: "a\udfffb", toolInput: { s: "\ud800", list: ["x\udc00"] } } });
    expect(response.status, response.text).toBe(200);
    expect(response.json.data?.startToolTrace?.__typename, response.text).toBe("ToolTrace");
    const row = await h.db.prisma.toolTrace.findUniqueOrThrow({ where: { id: response.json.data.startToolTrace.uuid } });
    expect(row.toolName).toBe("a\uFFFDb");
    expect(row.toolInput).toEqual({ s: "\uFFFD", list: ["x\uFFFD"] });
  });

  test("in a snapshot's state and a finish's output and error", async () => {
    const save = await gql(SAVE, { input: { chatId: chatB.id, state: { note: "\ud83d half an emoji" } } });
    expect(save.json.data?.saveSnapshot?.__typename, save.text).toBe("SnapshotRevision");
    const revision = await h.db.prisma.agentSnapshotRevision.findFirstOrThrow({ where: { chatId: chatB.uuid }, orderBy: { turn: "desc" } });
    expect(revision.state).toEqual({ note: "\uFFFD half an emoji" });
    const trace = await started({ chatId: chatB.id, toolName: "surrogates" });
    const finish = await gql(FINISH, { input: { traceId: trace.id, output: "out\udfff", error: "\ud800err" } });
    expect(finish.json.data?.finishToolTrace?.__typename, finish.text).toBe("ToolTrace");
    const row = await h.db.prisma.toolTrace.findUniqueOrThrow({ where: { id: trace.uuid } });
    expect([row.toolOutput, row.error]).toEqual(["out\uFFFD", "\uFFFDerr"]);
  });
});

test("the server is healthy at the end of the file", async () => {
  await expectHealthy(h.t, false);
});
