// Regression tests for the hardening issue's transport defects, on both backends: DNS rebinding (1),
// query cost (2), over-deep documents (7) and aborted uploads (12). Bad inputs at large are in
// tests/bad-input; the outage and SIGTERM defects (5, 6) in tests/unit/outage-answers.test.ts and tests/fault.
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { createChat, recordingLogger, recordTraces, transports } from "../helpers/graphql-fixtures.js";
import { postJson, rawRequest } from "../helpers/raw-http.js";

let db: TestDatabase;
let t: TestApp;
const logged = recordingLogger();
let chatId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { log: logged.log });
  const run = transports(() => t)[0]![1];
  chatId = (await createChat(run, "hardening")).id;
  await recordTraces(run, [{ chatId, toolName: "ls" }]);
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

const REBIND = { host: "rebind.example:4000", origin: "http://rebind.example:4000" };

describe("DNS rebinding: only the server's own Host names are answered", () => {
  test("the probe's request (foreign Host and matching Origin) is refused, and reads nothing", async () => {
    const response = await postJson(t.graphqlUrl, { query: "{chats(first:5){edges{node{uuid title}}}}" }, REBIND);
    expect(response.status).toBe(403);
    expect(response.json.errors[0].extensions.code).toBe("HOST_NOT_ALLOWED");
    expect(response.text).not.toContain("hardening");
  });

  test("a write under a foreign Host is refused before it runs", async () => {
    const before = await databaseFingerprint(db.prisma);
    const response = await postJson(t.graphqlUrl, { query: 'mutation { createChat(input: {title: "x"}) { __typename } }' }, { host: "evil.example" });
    expect(response.status).toBe(403);
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
  });

  test.each(["/healthz", "/graphql?query=%7B__typename%7D", "/graphiql-assets/graphiql.css", "/", "/nowhere"])("GET %s under a foreign Host: 403", async (path) => {
    const response = await rawRequest(`${t.url}${path}`, { headers: { host: "rebind.example:4000" } });
    expect(response.status).toBe(403);
    expect(response.json.errors[0].extensions.code).toBe("HOST_NOT_ALLOWED");
  });

  test("the same paths under the server's own names answer", async () => {
    const port = new URL(t.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      expect((await rawRequest(`${t.url}/healthz`, { headers: { host } })).status).toBe(200);
    }
  });

  test("a WebSocket upgrade under a foreign Host is refused with 403 and never acknowledged", async () => {
    const outcome = await new Promise<{ status?: number; acked: boolean }>((resolve) => {
      const socket = new WebSocket(t.wsUrl, "graphql-transport-ws", { headers: REBIND });
      socket.on("error", () => {}); // terminate() below reports the refused handshake as an error
      socket.once("open", () => {
        socket.send(JSON.stringify({ type: "connection_init" }));
        socket.once("message", (data) => resolve({ acked: String(data).includes("connection_ack") }));
      });
      socket.once("unexpected-response", (_req, res) => {
        resolve({ status: res.statusCode, acked: false });
        socket.terminate();
      });
    });
    expect(outcome).toEqual({ status: 403, acked: false });
    expect(logged.records.some((r) => r.msg === "graphql_ws.host_refused" && r.host === REBIND.host)).toBe(true);
  });
});

describe("one guard for every POST", () => {
  test("an Origin that is not allowed is refused, even with a JSON body", async () => {
    for (const origin of ["https://evil.example", "null"]) {
      const response = await postJson(t.graphqlUrl, { query: "{__typename}" }, { origin });
      expect(response.status, origin).toBe(403);
      expect(response.json.errors[0].extensions.code).toBe("ORIGIN_NOT_ALLOWED");
    }
    expect((await postJson(t.graphqlUrl, { query: "{__typename}" }, { origin: t.url })).status).toBe(200);
  });

  test("gzip bodies are read, and bounded by the body limit once decompressed", async () => {
    const query = JSON.stringify({ query: "{__typename}" });
    const ok = await rawRequest(t.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: gzipSync(query) });
    expect(ok.json).toEqual({ data: { __typename: "Query" } });

    // 10 MB of spaces after a valid JSON value: about 10 KB on the wire.
    const bomb = gzipSync(Buffer.concat([Buffer.from(query), Buffer.alloc(10 * 1024 * 1024, 0x20)]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const refused = await rawRequest(t.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: bomb });
    expect(refused.status).toBe(413);
    expect(refused.json.errors[0]).toMatchObject({ extensions: { code: "BODY_TOO_LARGE" }, message: expect.stringContaining("decompressed") });

    const corrupt = await rawRequest(t.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: Buffer.from("not gzip at all") });
    expect(corrupt.status).toBe(400);
    const unknown = await rawRequest(t.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "br" }, body: query });
    expect(unknown.status).toBe(415);
  });
});

const CHATS_WITH_STATS = "chats(first: 500) { edges { node { stats { traceCount } } } }";

describe("query cost is bounded before execution", () => {
  test("the probe's 2,000 aliases are refused before they run (by the token limit first), 100 by the alias limit", async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${CHATS_WITH_STATS}`).join(" ")} }`;
    const started = Date.now();
    const probe = await postJson(t.graphqlUrl, { query: aliases(2000) });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(probe.json.data).toBeUndefined();
    expect(probe.json.errors[0].message).toMatch(/Token limit of 5000 exceeded/);
    const hundred = await postJson(t.graphqlUrl, { query: aliases(100) });
    expect(hundred.json.data).toBeUndefined();
    expect(hundred.json.errors[0].message).toMatch(/aliases limit of 15/i);
  });

  test("15 aliases of a 500-chat page with stats pass the alias limit but not the complexity limit", async () => {
    const query = `{ ${Array.from({ length: 15 }, (_, i) => `a${i}: ${CHATS_WITH_STATS}`).join(" ")} }`;
    const response = await postJson(t.graphqlUrl, { query });
    expect(response.json.data).toBeUndefined();
    expect(response.json.errors[0]).toMatchObject({ message: expect.stringMatching(/complexity of \d+ exceeds max complexity/), extensions: { code: "QUERY_COMPLEXITY" } });
  });

  test("the page size given in a variable counts too, and an ordinary page passes", async () => {
    const query = `query($n: Int) { chats(first: $n) { edges { node { title traces(first: $n) { edges { node { toolName } } } } } } }`;
    const big = await postJson(t.graphqlUrl, { query, variables: { n: 500 } });
    expect(big.json.errors[0].extensions.code).toBe("QUERY_COMPLEXITY");
    const small = await postJson(t.graphqlUrl, { query, variables: { n: 20 } });
    expect(small.json.errors).toBeUndefined();
    const page = await postJson(t.graphqlUrl, { query: "{ chats(first: 500) { edges { node { title } } } }" });
    expect(page.json.errors).toBeUndefined();
  });

  test("token and directive limits name themselves", async () => {
    const tokens = await postJson(t.graphqlUrl, { query: `{ ${"__typename ".repeat(6000)} }` });
    expect(tokens.json.errors[0].message).toMatch(/Token limit of 5000 exceeded/);
    const directives = await postJson(t.graphqlUrl, { query: `{ __typename ${"@include(if: true) ".repeat(100)} }` });
    expect(directives.json.errors[0].message).toMatch(/Directives limit of 50 exceeded/i);
  });
});

describe("over-deep documents are the client's error (400), not the server's (500)", () => {
  test.each([
    ["50,000 braces", "{".repeat(50_000)],
    ["a 20,000-deep JSON literal", `mutation { startToolTrace(input: { chatId: "x", toolName: "x", toolInput: ${"[".repeat(20_000)}${"]".repeat(20_000)} }) { __typename } }`],
    ["a 3,000-deep selection", `{ ${"chats { ".repeat(3000)}${"}".repeat(3000)} }`],
  ])("%s", async (_name, query) => {
    const before = await databaseFingerprint(db.prisma);
    const response = await rawRequest(t.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
      body: JSON.stringify({ query }),
    });
    expect(response.status).toBe(400);
    expect(response.json.errors.length).toBeGreaterThan(0);
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
    expect((await rawRequest(`${t.url}/healthz`)).status).toBe(200);
  });
});

test("an upload the client abandons is logged as such, not as a server error", async () => {
  const { request } = await import("node:http");
  await new Promise<void>((resolve) => {
    const req = request(t.graphqlUrl, { method: "POST", agent: false, headers: { "content-type": "application/json", "content-length": "5000" } });
    req.on("error", () => resolve());
    req.write('{"query": "{ __typ');
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 200);
  });
  await expect.poll(() => logged.records.some((r) => r.msg === "http.request_aborted")).toBe(true);
  expect(logged.records.filter((r) => r.level === "error")).toEqual([]);
});

test("a NUL or a lone surrogate in a search or a filter is searched for as stored, not an error", async () => {
  const odd = "l\u0000s\ud800";
  const chats = await postJson(t.graphqlUrl, { query: "query($q: String) { chats(filter: { titleContains: $q }) { edges { node { title } } } }", variables: { q: odd } });
  expect(chats.json.errors, chats.text).toBeUndefined();
  const traces = await postJson(t.graphqlUrl, {
    query: `query($id: ID!, $f: TraceFilter) { chat(id: $id) { traces(filter: $f) { totalCount } turns(filter: $f) { turn } tracePageCursors(pageSize: 20, filter: $f) } }`,
    variables: { id: chatId, f: { toolNames: [odd] } },
  });
  expect(traces.json.errors, traces.text).toBeUndefined();
  expect(traces.json.data.chat.traces.totalCount).toBe(0);
});

test("a bad DateTime written in the query is named by the scalar, not by the complexity rule", async () => {
  const response = await postJson(t.graphqlUrl, {
    query: `mutation { startToolTrace(input: { chatId: "${chatId}", toolName: "x", startedAt: "2024-02-30T00:00:00Z" }) { __typename } }`,
  });
  expect(response.json.data).toBeUndefined();
  expect(response.json.errors[0].message, response.text).toMatch(/February 2024 has 29 days/);
});
