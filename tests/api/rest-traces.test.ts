// GET /api/chats/:id/traces (issue 11, REST read): over real HTTP, a chat of 10,000 traces paged
// through forwards and backwards gives the same rows, in the same order, with the same cursors, as
// the GraphQL connection Chat.traces; so does a filtered read, with its totalCount. Bad parameters
// are 400 with the connection's error codes, an unknown chat 404, a database that is down 503.
// Runs on both backends.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type App, buildApp } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import { type Database, openDatabase, setPrisma } from "../../server/db/client.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dataOf, postOnNewConnection, recordingLogger } from "../helpers/graphql-fixtures.js";
import { rawRequest } from "../helpers/raw-http.js";

let db: TestDatabase;
let t: TestApp;
let chatId: string;
let records: Record<string, any>[];
/** Every row, in order, from the forward walk. */
let allRows: any[] = [];

const TRACES = 10_000;
const BASE = Date.UTC(2026, 2, 1);
const STATUSES = ["ok", "ok", "ok", "error", "ok", "timeout", "ok", "cancelled"] as const;

beforeAll(async () => {
  db = await createTestDatabase();
  const recording = recordingLogger();
  records = recording.records;
  t = await startTestApp(db, { log: recording.log });
  chatId = (await t.app.services.chats.create({ title: "ten thousand" })).id;
  // Start times repeat (every 7th trace shares one) so ids decide the order between them.
  for (let from = 0; from < TRACES; from += 1000) {
    await t.app.services.traces.recordBatch(
      Array.from({ length: 1000 }, (_, k) => {
        const i = from + k;
        const status = STATUSES[i % STATUSES.length]!;
        return {
          chatId,
          toolName: `tool_${i % 5}`,
          toolCallId: `call_${i}`,
          messageId: `msg_${Math.floor(i / 3)}`,
          turnNumber: 1 + Math.floor(i / 1000),
          toolInput: { i, path: `src/file_${i}.ts` },
          startedAt: new Date(BASE + Math.floor(i / 7) * 1000),
          latencyMs: (i * 37) % 5000,
          ...(status === "error" ? { error: `failed ${i}` } : { output: `out ${i}` }),
          ...(status === "timeout" || status === "cancelled" ? { status } : {}),
          tokens: i % 3 === 0 ? { input: i, output: 7, cacheRead: 100, cacheWrite: 3, reasoning: 2 } : undefined,
        };
      }),
    );
  }
}, 300_000);
afterAll(async () => {
  expect(records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
  await t?.stop();
  await db?.destroy();
});

const FIELDS = `
  id uuid sessionId agentId agentType messageId toolCallId turnNumber toolName toolInput toolOutput outputBytes outputTruncated
  startedAt finishedAt latencyMs durationMs status error outcome
  tokens { input output cacheRead cacheWrite reasoning } tokensUsed cacheTokens reasoningTokens createdAt`;
const PAGE = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $filter: TraceFilter) {
  chat(id: $id) { traces(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { ${FIELDS} } }
  } }
}`;

async function rest(path: string) {
  return rawRequest(`${t.url}${path}`);
}

/** A GraphQL page as the REST answer shapes it. */
async function graphqlPage(variables: Record<string, unknown>) {
  const data = dataOf(await postOnNewConnection(t.graphqlUrl, PAGE, { id: chatId, ...variables }));
  const c = data.chat.traces;
  return { traces: c.edges.map((e: any) => ({ ...e.node, cursor: e.cursor })), pageInfo: c.pageInfo, totalCount: c.totalCount };
}

const query = (params: Record<string, string | string[]>) => {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const value of [v].flat()) search.append(k, value);
  return search.toString();
};

describe("GET /api/chats/:id/traces", () => {
  test("pages through 10,000 traces forwards to the same rows, order and cursors as Chat.traces", async () => {
    const restRows: any[] = [];
    const graphqlRows: any[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const params: Record<string, string> = { first: "500", ...(after ? { after } : {}) };
      const response = await rest(`/api/chats/${chatId}/traces?${query(params)}`);
      expect(response.status, response.text.slice(0, 500)).toBe(200);
      expect(response.headers["content-type"]).toMatch(/^application\/json/);
      const expected = await graphqlPage({ first: 500, after });
      expect(response.json).toEqual(expected);
      restRows.push(...response.json.traces);
      graphqlRows.push(...expected.traces);
      expect(response.json.totalCount).toBe(TRACES);
      pages++;
      if (!response.json.pageInfo.hasNextPage) break;
      after = response.json.pageInfo.endCursor;
    }
    expect(pages).toBe(20);
    expect(restRows).toHaveLength(TRACES);
    expect(new Set(restRows.map((r) => r.uuid)).size).toBe(TRACES);
    // (startedAt, id) order, strictly.
    for (let i = 1; i < restRows.length; i++) {
      const [a, b] = [restRows[i - 1], restRows[i]];
      expect(a.startedAt < b.startedAt || (a.startedAt === b.startedAt && a.uuid < b.uuid), `${a.uuid} then ${b.uuid}`).toBe(true);
    }
    // The rows are the stored traces, whole.
    const byCall = new Map(restRows.map((r) => [r.toolCallId, r]));
    expect(byCall.get("call_4321")).toMatchObject({ toolInput: { i: 4321, path: "src/file_4321.ts" }, status: "ok", latencyMs: (4321 * 37) % 5000, toolOutput: "out 4321" });
    expect(byCall.get("call_3")).toMatchObject({ status: "error", error: "failed 3", tokens: { input: 3, output: 7, cacheRead: 100, cacheWrite: 3, reasoning: 2 }, tokensUsed: 113 });
    allRows = restRows;
  });

  test("pages backwards with last and before, like the connection", async () => {
    let before: string | null = null;
    const seen: string[] = [];
    for (let page = 0; page < 4; page++) {
      const response = await rest(`/api/chats/${chatId}/traces?${query({ last: "250", ...(before ? { before } : {}) })}`);
      expect(response.status).toBe(200);
      expect(response.json).toEqual(await graphqlPage({ last: 250, before }));
      expect(response.json.pageInfo.hasPreviousPage).toBe(true);
      seen.unshift(...response.json.traces.map((r: any) => r.toolCallId));
      before = response.json.pageInfo.startCursor;
    }
    // The forward walk's last thousand, in the same order.
    expect(allRows).toHaveLength(TRACES);
    expect(seen).toEqual(allRows.slice(-1000).map((r) => r.toolCallId));
  });

  test("a filter: the same rows and totalCount as the connection's filter, and its cursors page on", async () => {
    const params = { statuses: "error,timeout", toolNames: ["tool_1", "tool_3"], minLatencyMs: "1000", turnFrom: "2", turnTo: "9" };
    const filter = { statuses: ["error", "timeout"], toolNames: ["tool_1", "tool_3"], minLatencyMs: 1000, turnFrom: 2, turnTo: 9 };
    const first = await rest(`/api/chats/${chatId}/traces?${query({ ...params, first: "100" })}`);
    expect(first.status, first.text.slice(0, 300)).toBe(200);
    const expected = await graphqlPage({ first: 100, filter });
    expect(first.json).toEqual(expected);
    expect(first.json.totalCount).toBeGreaterThan(100);
    expect(first.json.totalCount).toBeLessThan(TRACES / 4);
    for (const row of first.json.traces) {
      expect(["error", "timeout"]).toContain(row.status);
      expect(["tool_1", "tool_3"]).toContain(row.toolName);
      expect(row.latencyMs).toBeGreaterThanOrEqual(1000);
    }
    // Repeated statuses mean the same; the filter's cursor continues the filtered list.
    const second = await rest(`/api/chats/${chatId}/traces?${query({ ...params, statuses: ["error", "timeout"], first: "100", after: first.json.pageInfo.endCursor })}`);
    expect(second.json).toEqual(await graphqlPage({ first: 100, after: first.json.pageInfo.endCursor, filter }));
    // A cursor of another filter's list is refused, as the connection refuses it.
    const other = await rest(`/api/chats/${chatId}/traces?${query({ first: "10", after: first.json.pageInfo.endCursor })}`);
    expect(other.status).toBe(400);
    expect(other.json.errors[0].extensions.code).toBe("INVALID_CURSOR");
  });

  test("without first or last: the default page size", async () => {
    const response = await rest(`/api/chats/${chatId}/traces`);
    expect(response.status).toBe(200);
    expect(response.json.traces).toHaveLength(t.config.DEFAULT_PAGE_SIZE);
    expect(response.json).toEqual(await graphqlPage({}));
  });

  test.each([
    ["first=abc", "BAD_USER_INPUT", /first must be a whole number/],
    ["first=501", "PAGE_SIZE_INVALID", /first is 501; a page holds at most 500/],
    ["first=-1", "PAGE_SIZE_INVALID", /must not be negative/],
    // GraphQL's own coercion of the variables refuses these, with its code.
    ["first=99999999999", "GRAPHQL_VALIDATION_FAILED", /\$first.*32-bit/],
    ["first=1&first=2", "BAD_USER_INPUT", /first is given 2 times/],
    ["after=not-a-cursor", "INVALID_CURSOR", /cursor/i],
    ["statuses=done", "GRAPHQL_VALIDATION_FAILED", /"done"/],
    ["startedFrom=yesterday", "BAD_USER_INPUT", /RFC 3339/],
    ["size=10", "BAD_USER_INPUT", /Unknown parameter "size"/],
  ])("?%s: 400 %s", async (search, code, message) => {
    const response = await rest(`/api/chats/${chatId}/traces?${search}`);
    expect(response.status, response.text).toBe(400);
    expect(response.json.errors[0].extensions.code).toBe(code);
    expect(response.json.errors[0].message).toMatch(message);
  });

  test("a malformed chat id is 400; an unknown chat is 404; a global id works like the UUID", async () => {
    const bad = await rest("/api/chats/not-a-chat/traces");
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0].extensions.code).toBe("BAD_USER_INPUT");

    const unknown = await rest("/api/chats/0190f000-0000-7000-8000-000000000000/traces");
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ errors: [{ message: "No chat has the id 0190f000-0000-7000-8000-000000000000", extensions: { code: "NOT_FOUND" } }] });

    const globalId = Buffer.from(`Chat:${chatId}`).toString("base64");
    const viaGlobal = await rest(`/api/chats/${encodeURIComponent(globalId)}/traces?first=5`);
    expect(viaGlobal.status).toBe(200);
    expect(viaGlobal.json).toEqual(await graphqlPage({ first: 5 }));
  });

  test("GET only; other paths under /api/chats are 404", async () => {
    const post = await rawRequest(`${t.url}/api/chats/${chatId}/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET");
    expect((await rest(`/api/chats/${chatId}/spans`)).status).toBe(404);
    expect((await rest(`/api/chats/${chatId}/traces/extra`)).status).toBe(404);
    expect((await rest("/api/chats/")).status).toBe(404);
  });
});

describe("with the database down", () => {
  let downDb: Database;
  let down: App;
  let url: string;
  beforeAll(async () => {
    downDb = await openDatabase({ databaseUrl: "postgresql://postgres@127.0.0.1:1/tracedeck", dataDir: "" });
    setPrisma(downDb.prisma);
    down = buildApp({ config: loadConfig({ PORT: "0", LOG_LEVEL: "silent" }), db: downDb, log: recordingLogger().log });
    url = await down.start(0);
  });
  afterAll(async () => {
    await down?.stop();
    await downDb?.close();
    setPrisma(db.prisma);
  });

  test("REST traces and the export answer 503 DATABASE_UNAVAILABLE with Retry-After", async () => {
    for (const path of ["traces?first=5", "export?format=jsonl", "export?format=otlp"]) {
      const response = await rawRequest(`${url}/api/chats/0190f000-0000-7000-8000-000000000000/${path}`);
      expect(response.status, `${path}: ${response.text}`).toBe(503);
      expect(response.headers["retry-after"]).toBe("1");
      expect(response.json.errors[0].extensions.code).toBe("DATABASE_UNAVAILABLE");
    }
  });
});
