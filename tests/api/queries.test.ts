// The read half of the GraphQL API (issue 3, "Queries"), on a real database of the project's backend,
// each query run in process (yoga.fetch) and over real HTTP.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encodeCursor } from "../../server/schema/cursors.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import {
  type ChatIds,
  codesOf,
  createChat,
  dataOf,
  ERROR_FIELDS,
  errorsOf,
  percentileCont,
  recordTraces,
  type RecordedTrace,
  type Run,
  TRACE_FIELDS,
  transports,
} from "../helpers/graphql-fixtures.js";

let db: TestDatabase;
let t: TestApp;

/** Fixed instants, recent enough that the abandoned-trace sweep leaves a running trace alone. */
const T0 = Math.floor((Date.now() - 30 * 60_000) / 1000) * 1000;
const at = (ms: number) => new Date(T0 + ms).toISOString();

/** The chat the trace filters run on: one trace of each kind, in a known start order. */
let filterChat: ChatIds;
/** name → recorded trace of filterChat (t1..t7 finished, "running" running). */
const traces: Record<string, RecordedTrace> = {};
let running: { id: string; uuid: string; startedAt: string };

/** Per-tool latencies of statsChat; stats are checked against them. */
let statsChat: ChatIds;
const LATENCIES: Record<string, number[]> = {
  // deliberately unsorted, with repeats, an even and an odd count
  bash: [120, 5, 5, 980, 33, 47, 61, 2500, 15, 15, 7, 300, 301, 12, 88, 91, 640, 1, 72, 72, 19, 4000],
  grep: [9, 3, 27, 14, 81, 243, 6],
  ls: [42],
};

/** Token totals beyond 2^31 (2,147,483,647) spread over several model steps. */
let bigChat: ChatIds;
const BIG_INPUT = 1_500_000_000;

let snapshotChat: ChatIds;
let titled: ChatIds[] = [];
const TAG = `qt${Math.random().toString(36).slice(2, 8)}`;

const run0 = (): Run => transports(() => t)[0]![1];

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
  const run = run0();

  filterChat = await createChat(run, "filters");
  const usage = { input: 100, output: 50, cacheRead: 30, cacheWrite: 20, reasoning: 10 };
  const specs: [string, Record<string, unknown>][] = [
    // name, item: start order is the ms offset
    ["t1", { toolName: "read_file", turnNumber: 1, latencyMs: 10, startedAt: at(0), messageId: "m1", toolCallId: "c1", tokens: usage, output: "one" }],
    ["t2", { toolName: "read_file", turnNumber: 1, latencyMs: 30, startedAt: at(1000), messageId: "m1", toolCallId: "c2", tokens: usage }],
    ["t3", { toolName: "grep", turnNumber: 2, latencyMs: 200, startedAt: at(2000), messageId: "m2", error: "exit 2", tokens: { input: 7, output: 3, cacheRead: 0, cacheWrite: 1 } }],
    ["t4", { toolName: "grep", turnNumber: 2, latencyMs: 50, startedAt: at(3000), tokens: { input: 11, output: 2, reasoning: 1 } }],
    ["t5", { toolName: "run_command", turnNumber: 3, latencyMs: 1000, startedAt: at(4000), status: "timeout" }],
    ["t6", { toolName: "run_command", turnNumber: 3, latencyMs: 5, startedAt: at(5000), status: "cancelled", outcome: "user stopped it" }],
    ["t7", { toolName: "edit_file", turnNumber: 4, latencyMs: 400, startedAt: at(6000), output: "x".repeat(40_000) }],
  ];
  // Recorded out of start order: the connection orders them, not the insert.
  const recorded = await recordTraces(run, [...specs].reverse().map(([, item]) => ({ chatId: filterChat.id, ...item }) as never));
  [...specs].reverse().forEach(([name], i) => (traces[name] = recorded[i]!));
  const started = dataOf(
    await run(
      `mutation($input: StartToolTraceInput!) { startToolTrace(input: $input) { ${ERROR_FIELDS} ... on ToolTrace { id uuid startedAt } } }`,
      { input: { chatId: filterChat.uuid, toolName: "run_command", turnNumber: 4, startedAt: at(20 * 60_000), toolInput: { cmd: "sleep 1000" } } },
    ),
  );
  running = started.startToolTrace;

  statsChat = await createChat(run, "stats");
  const items = Object.entries(LATENCIES).flatMap(([toolName, values]) => values.map((latencyMs, i) => ({ chatId: statsChat.id, toolName, latencyMs, startedAt: at(i) })));
  await recordTraces(run, items);
  // A running trace has no latency yet: it is left out of the latency stats.
  dataOf(await run(`mutation($c: ID!) { startToolTrace(input: {chatId: $c, toolName: "never_finished"}) { __typename } }`, { c: statsChat.id }));

  bigChat = await createChat(run, "big tokens");
  await recordTraces(
    run,
    // Three model steps; each of the first two called two tools that both carry the step's usage.
    [
      { messageId: "s1", toolName: "a" },
      { messageId: "s1", toolName: "b" },
      { messageId: "s2", toolName: "a" },
      { messageId: "s2", toolName: "c" },
      { messageId: "s3", toolName: "a" },
    ].map((x) => ({ chatId: bigChat.id, ...x, tokens: { input: BIG_INPUT, output: 600_000_000, cacheRead: 40_000_000, cacheWrite: 7, reasoning: 500_000_000 } })),
  );

  snapshotChat = await createChat(run, "snapshots");
  for (const turn of [1, 2, 3]) {
    dataOf(await run(`mutation($input: SaveSnapshotInput!) { saveSnapshot(input: $input) { __typename } }`, { input: { chatId: snapshotChat.id, state: { turn, messages: [`m${turn}`] } } }));
  }

  // Chats with known creation times, for the order and the title filter.
  titled = [];
  for (const [i, title] of [`${TAG} Alpha one`, `${TAG} beta two`, `${TAG} ALPHA three`, `${TAG} gamma`].entries()) {
    const chat = await createChat(run, title);
    await db.prisma.chat.update({ where: { id: chat.uuid }, data: { createdAt: new Date(T0 + i * 1000) } });
    titled.push(chat);
  }
});

afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

const TRACES_QUERY = `query($id: ID!, $filter: TraceFilter, $first: Int, $last: Int) {
  chat(id: $id) { traces(filter: $filter, first: $first, last: $last) { totalCount edges { node { uuid toolName startedAt } } pageInfo { hasNextPage hasPreviousPage } } }
}`;

describe.each(transports(() => t))("%s", (_name, run) => {
  const tracesOf = async (filter?: Record<string, unknown>, page: Record<string, number> = {}) => {
    const data = dataOf(await run(TRACES_QUERY, { id: filterChat.id, filter, ...page }));
    const connection = data.chat.traces;
    return { ...connection, uuids: connection.edges.map((e: any) => e.node.uuid) as string[] };
  };
  const uuidsOf = (...names: string[]) => names.map((n) => (n === "running" ? running.uuid : traces[n]!.uuid));

  describe("node and nodes", () => {
    test("node(id) resolves each type's global id", async () => {
      const revision = await db.prisma.agentSnapshotRevision.findFirstOrThrow({ where: { chatId: snapshotChat.uuid, turn: 2 } });
      const cases: [string, string, string][] = [
        [filterChat.id, "Chat", filterChat.uuid],
        [traces.t3!.id, "ToolTrace", traces.t3!.uuid],
        [encodeGlobalID("SnapshotRevision", revision.id), "SnapshotRevision", revision.id],
      ];
      for (const [id, typename, uuid] of cases) {
        const data = dataOf(await run(`query($id: ID!) { node(id: $id) { __typename id ... on Chat { uuid } ... on ToolTrace { uuid toolName } ... on SnapshotRevision { uuid turn } } }`, { id }));
        expect(data.node).toMatchObject({ __typename: typename, id, uuid });
      }
      const trace = dataOf(await run(`query($id: ID!) { node(id: $id) { ... on ToolTrace { toolName status error chat { uuid } } } }`, { id: traces.t3!.id }));
      expect(trace.node).toEqual({ toolName: "grep", status: "error", error: "exit 2", chat: { uuid: filterChat.uuid } });
    });

    test("global ids are opaque: not the UUID, and they decode to type and UUID", async () => {
      expect(filterChat.id).not.toBe(filterChat.uuid);
      expect(filterChat.id).not.toContain(filterChat.uuid);
      expect(Buffer.from(filterChat.id, "base64").toString()).toBe(`Chat:${filterChat.uuid}`);
    });

    test("node(id) of a missing row is null", async () => {
      const data = dataOf(await run(`query($id: ID!) { node(id: $id) { id } }`, { id: encodeGlobalID("Chat", "00000000-0000-4000-8000-000000000000") }));
      expect(data.node).toBeNull();
    });

    test("nodes(ids) keeps the order of the ids, with null for a missing one", async () => {
      const ids = [traces.t7!.id, filterChat.id, encodeGlobalID("ToolTrace", "00000000-0000-4000-8000-000000000000"), traces.t1!.id];
      const data = dataOf(await run(`query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, { ids }));
      expect(data.nodes).toEqual([
        { __typename: "ToolTrace", id: traces.t7!.id },
        { __typename: "Chat", id: filterChat.id },
        null,
        { __typename: "ToolTrace", id: traces.t1!.id },
      ]);
    });

    test("a malformed global id is the client's error (BAD_USER_INPUT), not a masked crash", async () => {
      const response = await run(`query { node(id: "not-a-global-id") { id } }`);
      expect(codesOf(response)).toEqual(["BAD_USER_INPUT"]);
      expect(errorsOf(response)[0]!.message).toContain("not a global id");
      expect(JSON.stringify(response)).not.toMatch(/at \S+\.js:\d+/); // no stack trace
    });
  });

  describe("chats and chat", () => {
    test("chats: newest first, with the title filter case-insensitive", async () => {
      const data = dataOf(await run(`query($f: ChatFilter) { chats(first: 50, filter: $f) { edges { node { uuid title createdAt } } } }`, { f: { titleContains: `${TAG} alpha` } }));
      expect(data.chats.edges.map((e: any) => e.node.uuid)).toEqual([titled[2]!.uuid, titled[0]!.uuid]);
      const all = dataOf(await run(`query($f: ChatFilter) { chats(filter: $f) { edges { node { uuid } } } }`, { f: { titleContains: TAG } }));
      expect(all.chats.edges.map((e: any) => e.node.uuid)).toEqual([...titled].reverse().map((c) => c.uuid));
      const none = dataOf(await run(`query { chats(filter: {titleContains: "no chat has this title"}) { edges { node { uuid } } pageInfo { hasNextPage } } }`));
      expect(none.chats).toEqual({ edges: [], pageInfo: { hasNextPage: false } });
    });

    test("chats without a filter lists every chat, ordered by (createdAt, id) descending", async () => {
      const data = dataOf(await run(`query { chats(first: 500) { edges { node { uuid createdAt } } } }`));
      const nodes = data.chats.edges.map((e: any) => e.node);
      expect(nodes).toHaveLength(await db.prisma.chat.count());
      const sorted = [...nodes].sort((a, b) => (a.createdAt === b.createdAt ? (a.uuid < b.uuid ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
      expect(nodes).toEqual(sorted);
    });

    test("chat(id) by global id, by UUID (any case), and null when missing", async () => {
      const query = `query($id: ID!) { chat(id: $id) { id uuid title workspace nextTurn currentSessionId continuedFromTurn createdAt lastActivityAt } }`;
      const byGlobal = dataOf(await run(query, { id: filterChat.id }));
      const byUuid = dataOf(await run(query, { id: filterChat.uuid }));
      const byUpper = dataOf(await run(query, { id: filterChat.uuid.toUpperCase() }));
      expect(byGlobal.chat).toMatchObject({ id: filterChat.id, uuid: filterChat.uuid, title: "filters", workspace: null, nextTurn: 1 });
      expect(byUuid).toEqual(byGlobal);
      expect(byUpper).toEqual(byGlobal);
      const row = await db.prisma.chat.findUniqueOrThrow({ where: { id: filterChat.uuid } });
      expect(byGlobal.chat.currentSessionId).toBe(row.currentSessionId);
      expect(byGlobal.chat.lastActivityAt).toBe(row.lastActivityAt.toISOString());
      expect(dataOf(await run(query, { id: "00000000-0000-4000-8000-000000000000" })).chat).toBeNull();
    });

    test("chat(id) with a malformed id, or another type's global id, is a BAD_USER_INPUT error", async () => {
      for (const id of ["nope", traces.t1!.id, "00000000-0000-4000-8000-00000000000"]) {
        const response = await run(`query($id: ID!) { chat(id: $id) { uuid } }`, { id });
        expect(codesOf(response)).toEqual(["BAD_USER_INPUT"]);
        expect(response.data?.chat ?? null).toBeNull();
      }
    });
  });

  describe("Chat.traces", () => {
    test("in start order by (startedAt, id), with totalCount", async () => {
      const all = await tracesOf();
      expect(all.uuids).toEqual(uuidsOf("t1", "t2", "t3", "t4", "t5", "t6", "t7", "running"));
      expect(all.totalCount).toBe(8);
      expect(all.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: false });
    });

    test("totalCount counts every matching trace on every page", async () => {
      const first = await tracesOf(undefined, { first: 2 });
      expect(first.uuids).toEqual(uuidsOf("t1", "t2"));
      expect(first.totalCount).toBe(8);
      expect(first.pageInfo.hasNextPage).toBe(true);
      const last = await tracesOf({ toolNames: ["grep", "read_file"] }, { last: 3 });
      expect(last.uuids).toEqual(uuidsOf("t2", "t3", "t4"));
      expect(last.totalCount).toBe(4);
      expect(last.pageInfo.hasPreviousPage).toBe(true);
    });

    test.each([
      ["toolNames", { toolNames: ["grep", "edit_file"] }, ["t3", "t4", "t7"]],
      ["one tool name", { toolNames: ["run_command"] }, ["t5", "t6", "running"]],
      ["an unknown tool name", { toolNames: ["nothing"] }, []],
      ["statuses", { statuses: ["error", "timeout"] }, ["t3", "t5"]],
      ["status running", { statuses: ["running"] }, ["running"]],
      ["statuses ok and cancelled", { statuses: ["cancelled", "ok"] }, ["t1", "t2", "t4", "t6", "t7"]],
      ["turnFrom and turnTo, inclusive", { turnFrom: 2, turnTo: 3 }, ["t3", "t4", "t5", "t6"]],
      ["turnFrom alone", { turnFrom: 3 }, ["t5", "t6", "t7", "running"]],
      ["turnTo alone", { turnTo: 1 }, ["t1", "t2"]],
      ["minLatencyMs, inclusive, leaving out running traces", { minLatencyMs: 200 }, ["t3", "t5", "t7"]],
      ["minLatencyMs 0", { minLatencyMs: 0 }, ["t1", "t2", "t3", "t4", "t5", "t6", "t7"]],
      ["startedFrom inclusive, startedBefore exclusive", { startedFrom: at(1000), startedBefore: at(4000) }, ["t2", "t3", "t4"]],
      ["startedFrom alone", { startedFrom: at(6000) }, ["t7", "running"]],
      ["startedBefore alone", { startedBefore: at(1000) }, ["t1"]],
      ["several filters together", { toolNames: ["run_command", "grep"], statuses: ["timeout", "ok", "running"], turnFrom: 2 }, ["t4", "t5", "running"]],
      ["an empty filter", {}, ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "running"]],
    ])("filter: %s", async (_label, filter, expected) => {
      const result = await tracesOf(filter);
      expect(result.uuids).toEqual(uuidsOf(...expected));
      expect(result.totalCount).toBe(expected.length);
    });

    test("a trace exposes its stored fields and the derived ones", async () => {
      const data = dataOf(await run(`query($id: ID!) { chat(id: $id) { traces { edges { node { ${TRACE_FIELDS} chat { uuid } } } } } }`, { id: filterChat.id }));
      const byUuid = new Map(data.chat.traces.edges.map((e: any) => [e.node.uuid, e.node]));
      const t1 = byUuid.get(traces.t1!.uuid) as any;
      const row = await db.prisma.toolTrace.findUniqueOrThrow({ where: { id: traces.t1!.uuid } });
      expect(t1).toEqual({
        id: traces.t1!.id,
        uuid: row.id,
        chat: { uuid: filterChat.uuid },
        sessionId: row.sessionId,
        messageId: "m1",
        toolCallId: "c1",
        turnNumber: 1,
        toolName: "read_file",
        toolInput: {},
        toolOutput: "one",
        outputBytes: 3,
        outputTruncated: false,
        startedAt: at(0),
        finishedAt: row.finishedAt!.toISOString(),
        latencyMs: 10,
        durationMs: 10,
        status: "ok",
        error: null,
        outcome: null,
        tokens: { input: 100, output: 50, cacheRead: 30, cacheWrite: 20, reasoning: 10 },
        tokensUsed: 100 + 30 + 20 + 50,
        cacheTokens: 30 + 20,
        reasoningTokens: 10,
        createdAt: row.createdAt.toISOString(),
      });
      expect(byUuid.get(traces.t3!.uuid)).toMatchObject({ status: "error", error: "exit 2", tokensUsed: 11, cacheTokens: 1, reasoningTokens: 0 });
      expect(byUuid.get(traces.t4!.uuid)).toMatchObject({ tokensUsed: 13, cacheTokens: 0, reasoningTokens: 1, toolOutput: null, outputBytes: null, outputTruncated: false });
      expect(byUuid.get(traces.t6!.uuid)).toMatchObject({ status: "cancelled", outcome: "user stopped it", durationMs: 5 });
    });

    test("outputTruncated: an output above the cap is stored cut, with its original size", async () => {
      const data = dataOf(await run(`query($id: ID!) { node(id: $id) { ... on ToolTrace { toolOutput outputBytes outputTruncated } } }`, { id: traces.t7!.id }));
      expect(data.node.outputTruncated).toBe(true);
      expect(data.node.outputBytes).toBe(40_000);
      expect(Buffer.byteLength(data.node.toolOutput)).toBeLessThanOrEqual(t.config.TRACE_OUTPUT_CAP_BYTES);
      expect(data.node.toolOutput).toMatch(/^x+\n…\[output truncated: 40000 bytes in all\]$/);
    });

    test("durationMs of a running trace is the time since it started", async () => {
      const before = Date.now();
      const data = dataOf(await run(`query($id: ID!) { node(id: $id) { ... on ToolTrace { status latencyMs finishedAt durationMs startedAt toolInput } } }`, { id: running.id }));
      const after = Date.now();
      expect(data.node).toMatchObject({ status: "running", latencyMs: null, finishedAt: null, startedAt: running.startedAt, toolInput: { cmd: "sleep 1000" } });
      const started = Date.parse(running.startedAt);
      expect(data.node.durationMs).toBeGreaterThanOrEqual(before - started);
      expect(data.node.durationMs).toBeLessThanOrEqual(after - started);
      expect(data.node.durationMs).toBeGreaterThan(9 * 60_000); // started 10 minutes ago
    });
  });

  describe("snapshots, current snapshot and event cursor", () => {
    test("Chat.snapshots: newest first; currentSnapshot is the latest save", async () => {
      const data = dataOf(
        await run(`query($id: ID!) { chat(id: $id) { nextTurn currentSnapshot { uuid turn state isCurrent } snapshots { edges { node { uuid turn state isCurrent supersededAt restoredFrom stateBytes chat { uuid } } } } } }`, {
          id: snapshotChat.id,
        }),
      );
      const nodes = data.chat.snapshots.edges.map((e: any) => e.node);
      expect(nodes.map((n: any) => n.turn)).toEqual([3, 2, 1]);
      expect(nodes.map((n: any) => n.isCurrent)).toEqual([true, false, false]);
      expect(nodes[1]).toMatchObject({ state: { turn: 2, messages: ["m2"] }, supersededAt: null, restoredFrom: null, chat: { uuid: snapshotChat.uuid } });
      expect(nodes[1].stateBytes).toBe(Buffer.byteLength(JSON.stringify({ turn: 2, messages: ["m2"] })));
      expect(data.chat.currentSnapshot).toEqual({ uuid: nodes[0].uuid, turn: 3, state: { turn: 3, messages: ["m3"] }, isCurrent: true });
      expect(data.chat.nextTurn).toBe(4);
    });

    test("a chat without snapshots: currentSnapshot null, snapshots empty", async () => {
      const data = dataOf(await run(`query($id: ID!) { chat(id: $id) { currentSnapshot { uuid } snapshots { edges { cursor } } } }`, { id: filterChat.id }));
      expect(data.chat).toEqual({ currentSnapshot: null, snapshots: { edges: [] } });
    });

    test("Chat.eventCursor is the cursor of the chat's latest committed event", async () => {
      const cursorFor = async (chat: ChatIds) => {
        const row = await db.prisma.chat.findUniqueOrThrow({ where: { id: chat.uuid } });
        const latest = await db.prisma.chatEvent.findFirstOrThrow({ where: { chatId: chat.uuid }, orderBy: { seq: "desc" } });
        expect(row.eventSeq).toBe(latest.seq);
        return encodeCursor(t.config.CURSOR_SECRET, { list: "chatEvents", parentId: chat.uuid, order: "seq" }, [latest.seq]);
      };
      const query = `query($id: ID!) { chat(id: $id) { eventCursor } }`;
      const chat = await createChat(run, "event cursor");
      const first = dataOf(await run(query, { id: chat.id })).chat.eventCursor;
      expect(first).toBe(await cursorFor(chat));
      dataOf(await run(`mutation($id: ID!) { renameChat(id: $id, title: "renamed") { __typename } }`, { id: chat.id }));
      const second = dataOf(await run(query, { id: chat.uuid })).chat.eventCursor;
      expect(second).not.toBe(first);
      expect(second).toBe(await cursorFor(chat));
      // Another chat at the same seq has another cursor: cursors are per chat.
      const other = await createChat(run, "event cursor 2");
      expect(dataOf(await run(query, { id: other.id })).chat.eventCursor).not.toBe(first);
    });
  });

  describe("Chat.stats", () => {
    const STATS = `query($id: ID!) { chat(id: $id) { stats {
      traceCount errorCount runningCount
      tokens { input output cacheRead cacheWrite reasoning tokensUsed }
      latencyByTool { toolName count p50Ms p95Ms maxMs }
    } } }`;

    test("counts of traces, errors (error and timeout) and running traces", async () => {
      const data = dataOf(await run(STATS, { id: filterChat.id }));
      expect(data.chat.stats).toMatchObject({ traceCount: 8, errorCount: 2, runningCount: 1 });
    });

    test("token totals count a model step once, however many of its tool calls carry its usage", async () => {
      const data = dataOf(await run(STATS, { id: filterChat.id }));
      // m1 (t1 and t2 with the same usage) once, m2 (t3), and t4 (no message id: its own step).
      const expected = {
        input: 100 + 7 + 11,
        output: 50 + 3 + 2,
        cacheRead: 30 + 0 + 0,
        cacheWrite: 20 + 1 + 0,
        reasoning: 10 + 0 + 1,
      };
      expect(data.chat.stats.tokens).toEqual({ ...expected, tokensUsed: expected.input + expected.output + expected.cacheRead + expected.cacheWrite });
    });

    test("token totals above 2^31 are exact", async () => {
      const data = dataOf(await run(STATS, { id: bigChat.id }));
      const steps = 3;
      const tokens = data.chat.stats.tokens;
      expect(tokens).toEqual({
        input: steps * BIG_INPUT,
        output: steps * 600_000_000,
        cacheRead: steps * 40_000_000,
        cacheWrite: steps * 7,
        reasoning: steps * 500_000_000,
        tokensUsed: steps * (BIG_INPUT + 600_000_000 + 40_000_000 + 7),
      });
      expect(tokens.input).toBeGreaterThan(2 ** 31);
      expect(data.chat.stats.traceCount).toBe(5);
      // Each trace still shows its own step's usage.
      const perTrace = dataOf(await run(`query($id: ID!) { chat(id: $id) { traces { edges { node { tokens { input } tokensUsed } } } } }`, { id: bigChat.id }));
      for (const edge of perTrace.chat.traces.edges) expect(edge.node).toEqual({ tokens: { input: BIG_INPUT }, tokensUsed: BIG_INPUT + 600_000_000 + 40_000_000 + 7 });
    });

    test("a chat without usage has zero totals", async () => {
      const data = dataOf(await run(STATS, { id: snapshotChat.id }));
      expect(data.chat.stats).toEqual({
        traceCount: 0,
        errorCount: 0,
        runningCount: 0,
        tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0, tokensUsed: 0 },
        latencyByTool: [],
      });
    });

    test("latencyByTool: p50, p95 (percentile_cont) and max per tool, from finished traces", async () => {
      const data = dataOf(await run(STATS, { id: statsChat.id }));
      const expected = Object.keys(LATENCIES)
        .sort()
        .map((toolName) => ({
          toolName,
          count: LATENCIES[toolName]!.length,
          p50Ms: percentileCont(LATENCIES[toolName]!, 0.5),
          p95Ms: percentileCont(LATENCIES[toolName]!, 0.95),
          maxMs: Math.max(...LATENCIES[toolName]!),
        }));
      const actual = data.chat.stats.latencyByTool;
      expect(actual.map((l: any) => [l.toolName, l.count, l.maxMs])).toEqual(expected.map((l) => [l.toolName, l.count, l.maxMs]));
      actual.forEach((l: any, i: number) => {
        expect(l.p50Ms).toBeCloseTo(expected[i]!.p50Ms, 6);
        expect(l.p95Ms).toBeCloseTo(expected[i]!.p95Ms, 6);
      });
      // A sanity check of the reference itself: bash p50 lies between its two middle values.
      expect(expected[0]!.p50Ms).toBe((61 + 72) / 2);
      expect(data.chat.stats.runningCount).toBe(1);
      expect(data.chat.stats.traceCount).toBe(Object.values(LATENCIES).flat().length + 1);
    });
  });
});

describe("stats and abandoned traces", () => {
  test("latencyByTool leaves out abandoned traces, whose latency is only the sweep's age", async () => {
    const chat = await t.app.services.chats.create({ title: `${TAG} abandoned` });
    await t.app.services.traces.start({ chatId: chat.id, toolName: "hangs", toolInput: {}, startedAt: new Date(Date.now() - 7_200_000) });
    await t.app.services.traces.record({ chatId: chat.id, toolName: "hangs", toolInput: {}, startedAt: new Date(T0), latencyMs: 40, output: "ok" });
    expect(await t.app.services.traces.sweepAbandoned(3_600_000)).toBeGreaterThanOrEqual(1);
    const data = dataOf(await run0()(`query($id: ID!) { chat(id: $id) { stats { traceCount latencyByTool { toolName count maxMs } } } }`, { id: chat.id }));
    expect(data.chat.stats).toEqual({ traceCount: 2, latencyByTool: [{ toolName: "hangs", count: 1, maxMs: 40 }] });
  });
});
