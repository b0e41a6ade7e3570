// The write half of the GraphQL API (issue 3, "Mutations"): each mutation in process (yoga.fetch)
// and over real HTTP, on a real database. Expected failures are typed results that write nothing;
// anything unexpected is masked for the client and logged with context.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { type ChatIds, createChat, dataOf, ERROR_FIELDS, recordingLogger, type Run, TRACE_FIELDS, transports } from "../helpers/graphql-fixtures.js";

let db: TestDatabase;
let t: TestApp;
/** A second app on the same database, whose logger keeps its records. */
let logged: TestApp;
let records: Record<string, any>[];

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
  const recording = recordingLogger();
  records = recording.records;
  logged = await startTestApp(db, { log: recording.log });
});
afterAll(async () => {
  await logged?.stop();
  await t?.stop();
  await db?.destroy();
});

const MISSING_UUID = "00000000-0000-4000-8000-00000000abcd";

const START = `mutation($input: StartToolTraceInput!) { startToolTrace(input: $input) { ${ERROR_FIELDS} ... on ToolTrace { ${TRACE_FIELDS} } } }`;
const FINISH = `mutation($input: FinishToolTraceInput!) { finishToolTrace(input: $input) { ${ERROR_FIELDS} ... on ToolTrace { ${TRACE_FIELDS} } } }`;
const RECORD = `mutation($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { ${ERROR_FIELDS} ... on RecordToolTracesPayload { traces { id uuid toolName toolCallId status turnNumber latencyMs chat { uuid } } } } }`;
const SAVE = `mutation($input: SaveSnapshotInput!) { saveSnapshot(input: $input) { ${ERROR_FIELDS} ... on SnapshotRevision { id uuid turn state sessionId isCurrent restoredFrom supersededAt } } }`;
const RESTORE = `mutation($chatId: ID!, $turn: Int!) { restoreSnapshot(chatId: $chatId, turn: $turn) { ${ERROR_FIELDS} ... on RestoreSnapshotPayload { nextTurn sessionId revision { uuid turn isCurrent supersededAt } } } }`;
const DELETE_SNAPSHOT = `mutation($id: ID!) { deleteSnapshot(revisionId: $id) { ${ERROR_FIELDS} ... on DeleteSnapshotPayload { deletedRevisionId deletedUuid turn } } }`;
const DELETE_CHAT = `mutation($id: ID!) { deleteChat(id: $id) { ${ERROR_FIELDS} ... on DeleteChatPayload { deletedChatId deletedUuid } } }`;
const RENAME = `mutation($id: ID!, $title: String!) { renameChat(id: $id, title: $title) { ${ERROR_FIELDS} ... on Chat { uuid title } } }`;
const CREATE = `mutation($input: CreateChatInput) { createChat(input: $input) { ${ERROR_FIELDS} ... on Chat { id uuid title workspace nextTurn currentSessionId createdAt } } }`;

/** Runs a mutation that must return the typed error `typename` and change nothing in the database. */
async function failsCleanly(run: Run, typename: string, query: string, variables: Record<string, unknown>): Promise<Record<string, any>> {
  const before = await databaseFingerprint(db.prisma);
  const data = dataOf(await run(query, variables));
  const result = Object.values(data)[0] as Record<string, any>;
  expect(result.__typename, JSON.stringify(result)).toBe(typename);
  expect(typeof result.message).toBe("string");
  expect(await databaseFingerprint(db.prisma)).toEqual(before);
  return result;
}

/** Runs a mutation that must succeed without writing anything (an identical replay). */
async function changesNothing(run: Run, query: string, variables: Record<string, unknown>): Promise<Record<string, any>> {
  const before = await databaseFingerprint(db.prisma);
  const data = dataOf(await run(query, variables));
  expect(await databaseFingerprint(db.prisma)).toEqual(before);
  return Object.values(data)[0] as Record<string, any>;
}

const issuesOf = (result: Record<string, any>) => result.issues.map((i: { path: string[] }) => i.path);

describe.each(transports(() => t))("%s", (_name, run) => {
  const result = async (query: string, variables: Record<string, unknown>) => Object.values(dataOf(await run(query, variables)))[0] as Record<string, any>;
  const startTrace = (input: Record<string, unknown>) => result(START, { input });
  const eventKinds = async (chat: ChatIds) => (await db.prisma.chatEvent.findMany({ where: { chatId: chat.uuid }, orderBy: { seq: "asc" } })).map((e) => e.kind);

  describe("createChat and renameChat", () => {
    test("createChat stores the chat and its first event; the title defaults", async () => {
      const created = await result(CREATE, { input: { title: "  Refactor the parser  ", workspace: "/home/me/parser" } });
      expect(created).toMatchObject({ __typename: "Chat", title: "Refactor the parser", workspace: "/home/me/parser", nextTurn: 1 });
      const row = await db.prisma.chat.findUniqueOrThrow({ where: { id: created.uuid } });
      expect(row).toMatchObject({ title: "Refactor the parser", workspace: "/home/me/parser", currentSessionId: created.currentSessionId, eventSeq: 1 });
      expect(created.id).toBe(encodeGlobalID("Chat", created.uuid));
      expect(await eventKinds(created as ChatIds)).toEqual(["chat_created"]);
      const untitled = await result(`mutation { createChat { ... on Chat { title workspace } } }`, {});
      expect(untitled).toEqual({ title: "Untitled chat", workspace: null });
    });

    test("createChat with a bad title is a ValidationError naming input.title, and writes nothing", async () => {
      const empty = await failsCleanly(run, "ValidationError", CREATE, { input: { title: "   " } });
      expect(empty.issues).toEqual([{ path: ["input", "title"], message: "must not be empty" }]);
      const long = await failsCleanly(run, "ValidationError", CREATE, { input: { title: "x".repeat(501) } });
      expect(issuesOf(long)).toEqual([["input", "title"]]);
    });

    test("renameChat by global id or UUID; a missing chat is NotFoundError; an empty title a ValidationError", async () => {
      const chat = await createChat(run, "before");
      expect(await result(RENAME, { id: chat.id, title: "after" })).toEqual({ __typename: "Chat", uuid: chat.uuid, title: "after" });
      expect(await result(RENAME, { id: chat.uuid, title: "again" })).toMatchObject({ title: "again" });
      expect(await eventKinds(chat)).toEqual(["chat_created", "chat_updated", "chat_updated"]);
      const missing = await failsCleanly(run, "NotFoundError", RENAME, { id: MISSING_UUID, title: "x" });
      expect(missing).toMatchObject({ missingEntity: "Chat", missingId: MISSING_UUID });
      const empty = await failsCleanly(run, "ValidationError", RENAME, { id: chat.id, title: "" });
      expect(issuesOf(empty)).toEqual([["title"]]);
      const badId = await failsCleanly(run, "ValidationError", RENAME, { id: "not-an-id", title: "x" });
      expect(badId.issues).toEqual([{ path: ["id"], message: "must be the id of a Chat" }]);
    });
  });

  describe("startToolTrace and finishToolTrace", () => {
    test("start: a running trace in the chat's session and next turn; a finish by traceId", async () => {
      const chat = await createChat(run, "start-finish");
      const row = await db.prisma.chat.findUniqueOrThrow({ where: { id: chat.uuid } });
      const started = await startTrace({ chatId: chat.id, toolName: "read_file", toolInput: { path: "src/a.ts" }, messageId: "msg-1" });
      expect(started).toMatchObject({
        __typename: "ToolTrace",
        status: "running",
        sessionId: row.currentSessionId,
        turnNumber: 1,
        toolName: "read_file",
        toolInput: { path: "src/a.ts" },
        messageId: "msg-1",
        finishedAt: null,
        latencyMs: null,
        tokensUsed: 0,
      });
      const finished = await result(FINISH, { input: { traceId: started.id, output: "export const a = 1;", latencyMs: 42, tokens: { input: 10, output: 5, cacheRead: 100, cacheWrite: 3, reasoning: 2 } } });
      expect(finished).toMatchObject({
        __typename: "ToolTrace",
        id: started.id,
        status: "ok",
        toolOutput: "export const a = 1;",
        outputBytes: 19,
        latencyMs: 42,
        durationMs: 42,
        tokens: { input: 10, output: 5, cacheRead: 100, cacheWrite: 3, reasoning: 2 },
        tokensUsed: 118,
        cacheTokens: 103,
        reasoningTokens: 2,
      });
      expect(finished.finishedAt).not.toBeNull();
      expect(await db.prisma.toolTrace.findUniqueOrThrow({ where: { id: started.uuid } })).toMatchObject({ status: "ok", latencyMs: 42, inputTokens: 10 });
      expect(await eventKinds(chat)).toEqual(["chat_created", "trace_started", "trace_finished"]);
      // The trace's UUID works as well as its global id; an identical replay changes nothing.
      const replay = await changesNothing(run, FINISH, { input: { traceId: started.uuid, output: "export const a = 1;", latencyMs: 42, tokens: { input: 10, output: 5, cacheRead: 100, cacheWrite: 3, reasoning: 2 } } });
      expect(replay).toMatchObject({ __typename: "ToolTrace", id: started.id, status: "ok" });
      // A different second finish is a conflict.
      const conflict = await failsCleanly(run, "ConflictError", FINISH, { input: { traceId: started.id, output: "something else" } });
      expect(conflict).toMatchObject({ conflictEntity: "ToolTrace", conflictId: started.uuid });
    });

    test("finish by chatId and toolCallId; an error makes status error; timeout is taken as claimed", async () => {
      const chat = await createChat(run, "by call id");
      await startTrace({ chatId: chat.uuid, toolName: "run_command", toolCallId: "call_1", startedAt: new Date(Date.now() - 2000).toISOString() });
      await startTrace({ chatId: chat.id, toolName: "run_command", toolCallId: "call_2" });
      const failed = await result(FINISH, { input: { chatId: chat.id, toolCallId: "call_1", error: "exit 1", output: "boom" } });
      expect(failed).toMatchObject({ toolCallId: "call_1", status: "error", error: "exit 1", toolOutput: "boom" });
      expect(failed.latencyMs).toBeGreaterThanOrEqual(2000); // from the start's clock to the finish
      const timedOut = await result(FINISH, { input: { chatId: chat.uuid, toolCallId: "call_2", status: "timeout", outcome: "killed after 30 s" } });
      expect(timedOut).toMatchObject({ toolCallId: "call_2", status: "timeout", outcome: "killed after 30 s" });
    });

    test("a start replayed with the same toolCallId returns the stored trace; different fields conflict", async () => {
      const chat = await createChat(run, "replay");
      const input = { chatId: chat.id, toolName: "grep", toolCallId: "call_x", toolInput: { pattern: "TODO" } };
      const first = await startTrace(input);
      const again = await changesNothing(run, START, { input });
      expect(again).toMatchObject({ __typename: "ToolTrace", id: first.id });
      const conflict = await failsCleanly(run, "ConflictError", START, { input: { ...input, toolInput: { pattern: "FIXME" } } });
      expect(conflict).toMatchObject({ conflictEntity: "ToolTrace", conflictId: first.uuid });
    });

    test("typed errors: missing chat or trace, bad ids, bad fields, each with the path from the arguments", async () => {
      const chat = await createChat(run, "errors");
      expect(await failsCleanly(run, "NotFoundError", START, { input: { chatId: MISSING_UUID, toolName: "x" } })).toMatchObject({ missingEntity: "Chat", missingId: MISSING_UUID });
      expect((await failsCleanly(run, "ValidationError", START, { input: { chatId: "nope", toolName: "x" } })).issues).toEqual([
        { path: ["input", "chatId"], message: "must be the id of a Chat" },
      ]);
      // A global id of another type is not a chat id.
      expect(issuesOf(await failsCleanly(run, "ValidationError", START, { input: { chatId: encodeGlobalID("ToolTrace", MISSING_UUID), toolName: "x" } }))).toEqual([["input", "chatId"]]);
      expect(issuesOf(await failsCleanly(run, "ValidationError", START, { input: { chatId: chat.id, toolName: "" } }))).toEqual([["input", "toolName"]]);
      expect(issuesOf(await failsCleanly(run, "ValidationError", START, { input: { chatId: chat.id, toolName: "x", turnNumber: 0 } }))).toEqual([["input", "turnNumber"]]);

      expect(await failsCleanly(run, "NotFoundError", FINISH, { input: { traceId: MISSING_UUID } })).toMatchObject({ missingEntity: "ToolTrace", missingId: MISSING_UUID });
      expect(await failsCleanly(run, "NotFoundError", FINISH, { input: { chatId: chat.id, toolCallId: "never-started" } })).toMatchObject({ missingEntity: "ToolTrace" });
      // Neither traceId nor chatId with toolCallId.
      const untargeted = await failsCleanly(run, "ValidationError", FINISH, { input: { output: "x" } });
      expect(untargeted.issues[0].path[0]).toBe("input");
      expect(issuesOf(await failsCleanly(run, "ValidationError", FINISH, { input: { traceId: encodeGlobalID("Chat", chat.uuid) } }))).toEqual([["input", "traceId"]]);

      const trace = await startTrace({ chatId: chat.id, toolName: "x" });
      const negative = await failsCleanly(run, "ValidationError", FINISH, { input: { traceId: trace.id, tokens: { input: -1 } } });
      expect(negative.issues).toEqual([{ path: ["input", "tokens", "input"], message: "must not be negative" }]);
      expect(issuesOf(await failsCleanly(run, "ValidationError", FINISH, { input: { traceId: trace.id, tokens: { output: 1, reasoning: 2 } } }))).toEqual([["input", "tokens", "reasoning"]]);
      expect(issuesOf(await failsCleanly(run, "ValidationError", FINISH, { input: { traceId: trace.id, latencyMs: -5 } }))).toEqual([["input", "latencyMs"]]);
      // Two forms of usage at once.
      expect(issuesOf(await failsCleanly(run, "ValidationError", FINISH, { input: { traceId: trace.id, tokens: { input: 1, anthropic: { input_tokens: 1, output_tokens: 1 } } } }))).toEqual([
        ["input", "tokens"],
      ]);
      const openAiBad = await failsCleanly(run, "ValidationError", FINISH, {
        input: { traceId: trace.id, tokens: { openai: { prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 11 } } } },
      });
      expect(issuesOf(openAiBad)).toEqual([["input", "tokens", "openai", "prompt_tokens_details", "cached_tokens"]]);
      // A finish before a client-given start.
      const dated = await startTrace({ chatId: chat.id, toolName: "x", startedAt: "2026-01-01T00:00:10.000Z" });
      expect(issuesOf(await failsCleanly(run, "ValidationError", FINISH, { input: { traceId: dated.id, finishedAt: "2026-01-01T00:00:09.000Z" } }))).toEqual([["input", "finishedAt"]]);
    });

    test("values at the edge of 32 bits: a trace running for months, and one step's usage summing past 2^31", async () => {
      const chat = await createChat(run, "edges");
      // The client may give any startedAt: durationMs saturates like latencyMs instead of failing the response.
      const old = await startTrace({ chatId: chat.id, toolName: "x", startedAt: "2025-01-01T00:00:00.000Z" });
      expect(old).toMatchObject({ __typename: "ToolTrace", status: "running", durationMs: 2_147_483_647 });
      const max = 2_147_483_647;
      const big = await startTrace({ chatId: chat.id, toolName: "x" });
      const finished = await result(FINISH, { input: { traceId: big.id, tokens: { input: max, output: max, cacheRead: max, cacheWrite: max, reasoning: max } } });
      expect(finished).toMatchObject({ __typename: "ToolTrace", tokensUsed: 4 * max, cacheTokens: 2 * max, reasoningTokens: max });
    });

    test("token usage given as OpenAI's or Anthropic's raw usage is normalised", async () => {
      const chat = await createChat(run, "usage");
      const a = await startTrace({ chatId: chat.id, toolName: "x" });
      const openai = await result(FINISH, {
        input: {
          traceId: a.id,
          tokens: { openai: { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1000 }, completion_tokens_details: { reasoning_tokens: 120 } } },
        },
      });
      // OpenAI counts cached tokens inside prompt_tokens and reasoning inside completion_tokens.
      expect(openai.tokens).toEqual({ input: 200, cacheRead: 1000, cacheWrite: 0, output: 300, reasoning: 120 });
      expect(openai.tokensUsed).toBe(1500);
      const b = await startTrace({ chatId: chat.id, toolName: "x" });
      const anthropic = await result(FINISH, {
        input: { traceId: b.id, tokens: { anthropic: { input_tokens: 50, output_tokens: 20, cache_read_input_tokens: 4000, cache_creation_input_tokens: 600 } } },
      });
      // Anthropic reports cache reads and writes apart from input_tokens.
      expect(anthropic.tokens).toEqual({ input: 50, cacheRead: 4000, cacheWrite: 600, output: 20, reasoning: 0 });
      expect(anthropic.tokensUsed).toBe(4670);
      expect(anthropic.cacheTokens).toBe(4600);
      const stats = dataOf(await run(`query($id: ID!) { chat(id: $id) { stats { tokens { input output cacheRead cacheWrite reasoning } } } }`, { id: chat.id }));
      expect(stats.chat.stats.tokens).toEqual({ input: 250, output: 320, cacheRead: 5000, cacheWrite: 600, reasoning: 120 });
    });
  });

  describe("recordToolTraces", () => {
    const item = (chatId: string, i: number, extra: Record<string, unknown> = {}) => ({ chatId, toolName: `tool_${i % 5}`, toolCallId: `call_${i}`, latencyMs: i, output: `out ${i}`, ...extra });

    test("1,000 items in one call, across chats, in item order", async () => {
      const a = await createChat(run, "batch a");
      const b = await createChat(run, "batch b");
      const items = Array.from({ length: 1000 }, (_, i) => item(i % 10 === 0 ? b.id : a.uuid, i));
      const payload = await result(RECORD, { input: { items } });
      expect(payload.__typename).toBe("RecordToolTracesPayload");
      expect(payload.traces.map((tr: any) => tr.toolCallId)).toEqual(items.map((x) => x.toolCallId));
      expect(payload.traces.every((tr: any) => tr.status === "ok")).toBe(true);
      expect(payload.traces[10].chat.uuid).toBe(b.uuid);
      expect(await db.prisma.toolTrace.count({ where: { chatId: a.uuid } })).toBe(900);
      expect(await db.prisma.toolTrace.count({ where: { chatId: b.uuid } })).toBe(100);
      // Two events per trace, after the chat's own.
      expect((await db.prisma.chat.findUniqueOrThrow({ where: { id: a.uuid } })).eventSeq).toBe(1 + 2 * 900);
    });

    test("1,001 items is a ValidationError on input.items, and nothing is written", async () => {
      const chat = await createChat(run, "too many");
      const items = Array.from({ length: 1001 }, (_, i) => item(chat.id, i));
      const error = await failsCleanly(run, "ValidationError", RECORD, { input: { items } });
      expect(error.issues).toEqual([{ path: ["input", "items"], message: "holds 1001 items; the limit is 1000" }]);
    });

    test("one bad item: a typed error naming items.N, and nothing of the batch is written", async () => {
      const chat = await createChat(run, "all or nothing");
      const good = (n: number) => Array.from({ length: n }, (_, i) => item(chat.id, i));
      const cases: [string, unknown[], string, (r: Record<string, any>) => void][] = [
        ["a negative latency", [...good(3), item(chat.id, 3, { latencyMs: -1 }), ...good(2)], "ValidationError", (r) => expect(issuesOf(r)).toEqual([["input", "items", "3", "latencyMs"]])],
        ["bad token usage", [...good(5), item(chat.id, 5, { tokens: { input: 1, output: 1, reasoning: 9 } })], "ValidationError", (r) => expect(issuesOf(r)).toEqual([["input", "items", "5", "tokens", "reasoning"]])],
        ["a malformed chat id", [...good(2), item("garbage", 2)], "ValidationError", (r) => expect(r.issues).toEqual([{ path: ["input", "items", "2", "chatId"], message: "must be the id of a Chat" }])],
        ["a repeated tool call", [...good(4), item(chat.id, 1)], "ValidationError", (r) => expect(issuesOf(r)).toEqual([["input", "items", "4", "toolCallId"]])],
        ["a missing chat", [...good(6), item(MISSING_UUID, 6)], "NotFoundError", (r) => expect(r.message).toContain("items.6")],
      ];
      for (const [label, items, typename, check] of cases) {
        const error = await failsCleanly(run, typename, RECORD, { input: { items } });
        check(error);
        expect(await db.prisma.toolTrace.count({ where: { chatId: chat.uuid } }), label).toBe(0);
      }
      // A conflict with a stored trace, found while writing: the items before it are rolled back.
      await result(START, { input: { chatId: chat.id, toolName: "other", toolCallId: "call_7" } });
      const conflict = await failsCleanly(run, "ConflictError", RECORD, { input: { items: good(9) } });
      expect(conflict.message).toContain("items.7");
      expect(await db.prisma.toolTrace.count({ where: { chatId: chat.uuid } })).toBe(1);
    });

    test("items take the chat by global id and normalise raw usage", async () => {
      const chat = await createChat(run, "ids and usage");
      const payload = await result(
        `mutation($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { ${ERROR_FIELDS} ... on RecordToolTracesPayload { traces { chat { uuid } tokens { input cacheRead output reasoning } } } } }`,
        { input: { items: [{ chatId: chat.id, toolName: "x", tokens: { openai: { prompt_tokens: 10, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 6 } } } }] } },
      );
      expect(payload.traces).toEqual([{ chat: { uuid: chat.uuid }, tokens: { input: 4, cacheRead: 6, output: 4, reasoning: 0 } }]);
    });
  });

  describe("snapshots", () => {
    test("saveSnapshot closes the chat's turn; secrets are redacted; a closed turn conflicts", async () => {
      const chat = await createChat(run, "save");
      const saved = await result(SAVE, { input: { chatId: chat.id, state: { messages: ["hi"], settings: { apiKey: "sk-secret", model: "m" } } } });
      expect(saved).toMatchObject({ __typename: "SnapshotRevision", turn: 1, isCurrent: true, state: { messages: ["hi"], settings: { apiKey: "[redacted]", model: "m" } } });
      expect(JSON.stringify(await db.prisma.agentSnapshotRevision.findMany({ where: { chatId: chat.uuid } }))).not.toContain("sk-secret");
      const next = await result(SAVE, { input: { chatId: chat.uuid, state: { messages: ["hi", "again"] } } });
      expect(next).toMatchObject({ turn: 2, isCurrent: true });
      const chatNow = dataOf(await run(`query($id: ID!) { chat(id: $id) { nextTurn currentSnapshot { uuid } } }`, { id: chat.id }));
      expect(chatNow.chat).toEqual({ nextTurn: 3, currentSnapshot: { uuid: next.uuid } });
      // The same state for a closed turn is a no-op; another state conflicts.
      expect(await changesNothing(run, SAVE, { input: { chatId: chat.id, turn: 1, state: { messages: ["hi"], settings: { apiKey: "sk-secret", model: "m" } } } })).toMatchObject({ uuid: saved.uuid });
      expect(await failsCleanly(run, "ConflictError", SAVE, { input: { chatId: chat.id, turn: 1, state: { other: true } } })).toMatchObject({ conflictEntity: "Chat" });
    });

    test("saveSnapshot typed errors: state not an object, bad turn, missing chat", async () => {
      const chat = await createChat(run, "save errors");
      expect(issuesOf(await failsCleanly(run, "ValidationError", SAVE, { input: { chatId: chat.id, state: [1, 2] } }))).toEqual([["input", "state"]]);
      expect(issuesOf(await failsCleanly(run, "ValidationError", SAVE, { input: { chatId: chat.id, state: {}, turn: 0 } }))).toEqual([["input", "turn"]]);
      expect(issuesOf(await failsCleanly(run, "ValidationError", SAVE, { input: { chatId: "x", state: {} } }))).toEqual([["input", "chatId"]]);
      expect(await failsCleanly(run, "NotFoundError", SAVE, { input: { chatId: MISSING_UUID, state: {} } })).toMatchObject({ missingEntity: "Chat" });
    });

    test("restoreSnapshot(chatId, turn) makes the turn current and returns nextTurn and a new session", async () => {
      const chat = await createChat(run, "restore");
      const revisions: Record<string, any>[] = [];
      for (const turn of [1, 2, 3]) revisions.push(await result(SAVE, { input: { chatId: chat.id, state: { turn } } }));
      const before = await db.prisma.chat.findUniqueOrThrow({ where: { id: chat.uuid } });
      const restored = await result(RESTORE, { chatId: chat.id, turn: 2 });
      expect(restored).toMatchObject({ __typename: "RestoreSnapshotPayload", nextTurn: 4, revision: { uuid: revisions[1]!.uuid, turn: 2, isCurrent: true, supersededAt: null } });
      expect(restored.sessionId).not.toBe(before.currentSessionId);
      const after = dataOf(
        await run(`query($id: ID!) { chat(id: $id) { currentSessionId continuedFromTurn nextTurn currentSnapshot { turn } snapshots { edges { node { turn isCurrent supersededAt } } } } }`, { id: chat.uuid }),
      );
      expect(after.chat).toMatchObject({ currentSessionId: restored.sessionId, continuedFromTurn: 2, nextTurn: 4, currentSnapshot: { turn: 2 } });
      const nodes = after.chat.snapshots.edges.map((e: any) => e.node);
      expect(nodes.map((n: any) => [n.turn, n.isCurrent, n.supersededAt !== null])).toEqual([
        [3, false, true],
        [2, true, false],
        [1, false, false],
      ]);
      // The next save continues from the restored turn.
      expect(await result(SAVE, { input: { chatId: chat.id, state: { turn: 4 } } })).toMatchObject({ turn: 4, restoredFrom: 2, isCurrent: true });
      expect(await failsCleanly(run, "NotFoundError", RESTORE, { chatId: chat.id, turn: 99 })).toMatchObject({ missingEntity: "SnapshotRevision" });
      expect(issuesOf(await failsCleanly(run, "ValidationError", RESTORE, { chatId: chat.id, turn: 0 }))).toEqual([["turn"]]);
      expect(issuesOf(await failsCleanly(run, "ValidationError", RESTORE, { chatId: "x", turn: 1 }))).toEqual([["chatId"]]);
      expect(await failsCleanly(run, "NotFoundError", RESTORE, { chatId: MISSING_UUID, turn: 1 })).toMatchObject({ missingEntity: "Chat" });
    });

    test("deleteSnapshot(revisionId) deletes a revision; the current one is a conflict", async () => {
      const chat = await createChat(run, "delete snapshot");
      const one = await result(SAVE, { input: { chatId: chat.id, state: { n: 1 } } });
      const two = await result(SAVE, { input: { chatId: chat.id, state: { n: 2 } } });
      const deleted = await result(DELETE_SNAPSHOT, { id: one.id });
      expect(deleted).toEqual({ __typename: "DeleteSnapshotPayload", deletedRevisionId: one.id, deletedUuid: one.uuid, turn: 1 });
      expect(await db.prisma.agentSnapshotRevision.findUnique({ where: { id: one.uuid } })).toBeNull();
      expect(dataOf(await run(`query($id: ID!) { node(id: $id) { id } }`, { id: one.id })).node).toBeNull();
      expect(await failsCleanly(run, "ConflictError", DELETE_SNAPSHOT, { id: two.uuid })).toMatchObject({ conflictEntity: "SnapshotRevision", conflictId: two.uuid });
      expect(await failsCleanly(run, "NotFoundError", DELETE_SNAPSHOT, { id: one.id })).toMatchObject({ missingEntity: "SnapshotRevision", missingId: one.uuid });
      expect(issuesOf(await failsCleanly(run, "ValidationError", DELETE_SNAPSHOT, { id: chat.id }))).toEqual([["revisionId"]]);
    });
  });

  describe("deleteChat", () => {
    test("deletes the chat with its traces, steps, events and snapshots", async () => {
      const chat = await createChat(run, "doomed");
      await result(RECORD, { input: { items: [{ chatId: chat.id, toolName: "x", messageId: "m", tokens: { input: 5 } }] } });
      await result(SAVE, { input: { chatId: chat.id, state: { a: 1 } } });
      await result(SAVE, { input: { chatId: chat.id, state: { a: 2 } } });
      const deleted = await result(DELETE_CHAT, { id: chat.id });
      expect(deleted).toEqual({ __typename: "DeleteChatPayload", deletedChatId: chat.id, deletedUuid: chat.uuid });
      for (const count of [
        db.prisma.chat.count({ where: { id: chat.uuid } }),
        db.prisma.toolTrace.count({ where: { chatId: chat.uuid } }),
        db.prisma.modelStep.count({ where: { chatId: chat.uuid } }),
        db.prisma.chatEvent.count({ where: { chatId: chat.uuid } }),
        db.prisma.agentSnapshot.count({ where: { chatId: chat.uuid } }),
        db.prisma.agentSnapshotRevision.count({ where: { chatId: chat.uuid } }),
      ])
        expect(await count).toBe(0);
      expect(dataOf(await run(`query($id: ID!) { chat(id: $id) { uuid } node(id: $id) { id } }`, { id: chat.id }))).toEqual({ chat: null, node: null });
      expect(await failsCleanly(run, "NotFoundError", DELETE_CHAT, { id: chat.uuid })).toMatchObject({ missingEntity: "Chat", missingId: chat.uuid });
      expect(issuesOf(await failsCleanly(run, "ValidationError", DELETE_CHAT, { id: "x" }))).toEqual([["id"]]);
    });

    test("deleting one chat leaves the others alone", async () => {
      const keep = await createChat(run, "keep");
      const drop = await createChat(run, "drop");
      await result(RECORD, { input: { items: [{ chatId: keep.id, toolName: "x" }, { chatId: drop.id, toolName: "y" }] } });
      const keptBefore = await db.prisma.chatEvent.findMany({ where: { chatId: keep.uuid } });
      expect((await result(DELETE_CHAT, { id: drop.id })).__typename).toBe("DeleteChatPayload");
      expect(await db.prisma.chatEvent.findMany({ where: { chatId: keep.uuid } })).toEqual(keptBefore);
      expect(await db.prisma.toolTrace.count({ where: { chatId: keep.uuid } })).toBe(1);
    });
  });
});

describe("unexpected errors", () => {
  /**
   * A real failure of the database, not a mock: model_steps is renamed away for the duration, so the
   * finish's step-usage upsert and the stats' token sum fail inside PostgreSQL.
   */
  async function withModelStepsMissing<T>(body: () => Promise<T>): Promise<T> {
    await db.prisma.$executeRawUnsafe(`ALTER TABLE model_steps RENAME TO model_steps_away`);
    try {
      return await body();
    } finally {
      await db.prisma.$executeRawUnsafe(`ALTER TABLE model_steps_away RENAME TO model_steps`);
    }
  }

  test.each(transports(() => logged))("%s: masked as \"Unexpected error.\", logged with the field and the cause; the write is rolled back", async (_name, run) => {
    const chat = await createChat(run, "unexpected");
    const trace = dataOf(await run(START, { input: { chatId: chat.id, toolName: "x" } })).startToolTrace;
    const from = records.length;
    const { finishResponse, statsResponse } = await withModelStepsMissing(async () => ({
      finishResponse: await run(FINISH, { input: { traceId: trace.id, output: "o", tokens: { input: 1 } } }),
      statsResponse: await run(`query($id: ID!) { chat(id: $id) { title stats { traceCount tokens { input } } } }`, { id: chat.id }),
    }));

    expect(finishResponse.errors).toEqual([expect.objectContaining({ message: "Unexpected error.", path: ["finishToolTrace"] })]);
    expect(finishResponse.data ?? null).toBeNull();
    // Nothing of the cause reaches the client.
    for (const response of [finishResponse, statsResponse]) {
      const text = JSON.stringify(response);
      expect(text).not.toMatch(/model_steps|prisma|relation|stack/i);
    }
    expect(statsResponse.errors).toEqual([expect.objectContaining({ message: "Unexpected error.", path: ["chat", "stats", "tokens"] })]);

    // The finish was rolled back with its transaction: the trace is still running, no event was added.
    const row = await db.prisma.toolTrace.findUniqueOrThrow({ where: { id: trace.uuid } });
    expect(row).toMatchObject({ status: "running", finishHash: null, inputTokens: 0 });
    expect((await db.prisma.chatEvent.findMany({ where: { chatId: chat.uuid } })).map((e) => e.kind)).toEqual(["chat_created", "trace_started"]);

    const errors = records.slice(from).filter((r) => r.level === "error");
    expect(errors.map((r) => [r.msg, r.path])).toEqual([
      ["graphql.unexpected_error", "finishToolTrace"],
      ["graphql.unexpected_error", "chat.stats.tokens"],
    ]);
    for (const record of errors) expect(record.error.message).toMatch(/model_steps/);

    // Once the table is back, the same finish succeeds.
    expect(dataOf(await run(FINISH, { input: { traceId: trace.id, output: "o", tokens: { input: 1 } } })).finishToolTrace).toMatchObject({ status: "ok" });
  });

  test("expected errors are not logged as unexpected", async () => {
    const run = transports(() => logged)[0]![1];
    const from = records.length;
    await run(RENAME, { id: MISSING_UUID, title: "x" });
    await run(START, { input: { chatId: "nope", toolName: "x" } });
    await run(`query { chats(first: 501) { edges { cursor } } }`);
    expect(records.slice(from).filter((r) => r.level === "error")).toEqual([]);
  });
});
