// The SDK's bounds and retry policy over real HTTP: a client pointed at a port where the server
// starts later loses nothing within its bounds, drops past them are counted and reported once,
// close() never waits past its timeout, and a server answering 429, 500 or 403 is retried, given up
// on, or refused as the policy says.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { createClient, type DropInfo, type RejectInfo } from "../../sdk/src/index.js";
import type { TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { freePort, recordingFetch, sleep, startAppOnPort, tracesOf, warnings } from "./sdk-helpers.js";

let db: TestDatabase;
const apps: TestApp[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
});
afterAll(async () => {
  await db?.destroy();
});

const startLater = async (port: number, env: Record<string, string> = {}) => {
  const app = await startAppOnPort(db, port, env);
  apps.push(app);
  return app;
};

describe("bounds", () => {
  test("a server that starts later gets everything; the chat is created once", async () => {
    const port = await freePort();
    const title = `sdk: later ${port}`;
    const client = createClient({ url: `http://127.0.0.1:${port}`, chatTitle: title, logger: null, retryBaseMs: 20, retryMaxMs: 200 });
    for (let i = 0; i < 30; i++) expect(await client.traceTool("early", { i }, async () => i * 2)).toBe(i * 2);
    client.saveSnapshot({ done: true });
    await sleep(300);
    expect(client.chatId).toBeUndefined();
    expect(client.stats()).toMatchObject({ pending: 61, sent: 0, dropped: 0 });
    expect(client.stats().retries).toBeGreaterThan(0);

    await startLater(port);
    expect(await client.flush({ timeoutMs: 20_000 })).toBe(true);
    expect(client.stats()).toMatchObject({ pending: 0, sent: 61, dropped: 0, rejected: 0 });
    expect(await db.prisma.chat.count({ where: { title } })).toBe(1);
    const traces = await tracesOf(db, client.chatId!);
    expect(traces.map((tr) => tr.toolOutput).sort()).toEqual(Array.from({ length: 30 }, (_, i) => String(i * 2)).sort());
    await client.close();
  });

  test("past the item bound, every dropped operation is counted and reported; what was kept arrives", async () => {
    const port = await freePort();
    const drops: DropInfo[] = [];
    const seen = warnings();
    const client = createClient({ url: `http://127.0.0.1:${port}`, chatTitle: "sdk: drops", logger: seen.logger, maxQueueItems: 5, retryBaseMs: 20, retryMaxMs: 100, onDrop: (d) => drops.push(d) });
    // Fast calls: each start merges with its finish into one queued item, so five calls fill the queue.
    for (let i = 0; i < 20; i++) expect(await client.traceTool("quick", { i }, () => `out ${i}`)).toBe(`out ${i}`);
    expect(client.stats()).toMatchObject({ pending: 10, dropped: 30, sent: 0 });
    expect(drops).toHaveLength(30);
    expect(drops.every((d) => d.reason === "queue_full" && d.count === 1 && d.toolName === "quick")).toBe(true);
    expect(drops.filter((d) => d.kind === "start")).toHaveLength(15);
    expect(drops.at(-1)!.totalDropped).toBe(30);
    expect(seen.lines.filter((l) => l.includes("dropping"))).toEqual([expect.stringContaining("queue full")]);

    await startLater(port);
    expect(await client.flush({ timeoutMs: 20_000 })).toBe(true);
    expect(client.stats()).toMatchObject({ pending: 0, sent: 10, dropped: 30, rejected: 0 });
    const traces = await tracesOf(db, client.chatId!);
    expect(traces.map((tr) => tr.toolOutput).sort()).toEqual(["out 0", "out 1", "out 2", "out 3", "out 4"]);
    await client.close();
  });

  test("past the byte bounds: the queue's bytes, and an item larger than a request", async () => {
    const port = await freePort();
    const drops: DropInfo[] = [];
    const client = createClient({
      url: `http://127.0.0.1:${port}`,
      chatTitle: "sdk: bytes",
      logger: null,
      maxQueueBytes: 3_000,
      maxRequestBytes: 2_000,
      retryBaseMs: 20,
      retryMaxMs: 100,
      onDrop: (d) => drops.push(d),
    });
    const input = { text: "a".repeat(900) }; // about 1 KB per call's start
    for (let i = 0; i < 6; i++) await client.traceTool("mid", { ...input, i }, () => i);
    // One item alone larger than a request can never be sent: dropped at once, whatever the queue holds.
    await client.traceTool("huge", { text: "b".repeat(5_000) }, () => "x");
    client.saveSnapshot({ blob: "c".repeat(5_000) });
    const stats = client.stats();
    expect(drops.filter((d) => d.reason === "queue_full").length).toBeGreaterThan(0);
    expect(drops.filter((d) => d.reason === "too_large").map((d) => d.kind)).toEqual(["start", "finish", "snapshot"]);
    expect(stats.pending + stats.dropped).toBe(6 * 2 + 2 + 1);
    expect(stats.pending).toBeGreaterThanOrEqual(4); // two calls of about 1 KB fit in 3 KB

    await startLater(port);
    expect(await client.flush({ timeoutMs: 20_000 })).toBe(true);
    expect((await tracesOf(db, client.chatId!)).length).toBe(stats.pending / 2);
    await client.close();
  });

  test("close() during an outage returns within its timeout; what is left counts as dropped", async () => {
    const port = await freePort();
    const drops: DropInfo[] = [];
    const client = createClient({ url: `http://127.0.0.1:${port}`, logger: null, retryBaseMs: 1_000, retryMaxMs: 5_000, onDrop: (d) => drops.push(d) });
    for (let i = 0; i < 10; i++) await client.traceTool("t", { i }, () => i);
    client.saveSnapshot({ n: 1 });
    const began = performance.now();
    const stats = await client.close({ timeoutMs: 300 });
    const took = performance.now() - began;
    console.log(`close({ timeoutMs: 300 }) during an outage took ${took.toFixed(0)} ms`);
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1_500);
    expect(stats).toMatchObject({ pending: 0, sent: 0, dropped: 21 });
    expect(drops.filter((d) => d.reason === "closed").reduce((n, d) => n + d.count, 0)).toBe(21);
  });
});

/** A real HTTP server whose answers the test scripts, one per request, the last one repeated. */
async function scriptedServer(answers: ((req: IncomingMessage, res: ServerResponse) => void)[]) {
  const requests: { at: number; body: string; authorization?: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (c: string) => (body += c));
    req.on("end", () => {
      requests.push({ at: performance.now(), body, authorization: req.headers.authorization });
      answers[Math.min(requests.length - 1, answers.length - 1)]!(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};
const chatCreated = json(200, { data: { createChat: { __typename: "Chat", uuid: "0190a5b2-0000-7000-8000-000000000001", nextTurn: 1 } } });
const recorded = json(200, { data: { recordToolTraces: { __typename: "RecordToolTracesPayload" } } });

describe("retry policy", () => {
  test("a server with lower limits (2 aliases, 3 items a batch): requests shrink to fit, stay shrunk, and everything lands", async () => {
    const app = await startLater(await freePort(), { MAX_QUERY_ALIASES: "2", MAX_BATCH_ITEMS: "3" });
    const rejects: RejectInfo[] = [];
    const spy = recordingFetch();
    const client = createClient({ url: app.url, chatTitle: "sdk: small limits", logger: null, onReject: (r) => rejects.push(r), fetch: spy.fetch });
    await client.traceTool("warm_up", {}, () => 0); // the chat exists: the starts below go while their tools run
    expect(await client.flush()).toBe(true);
    const round = async (name: string) => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => client.traceTool(name, { i }, () => sleep(300).then(() => i))));
      expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(await client.flush({ timeoutMs: 20_000 })).toBe(true);
    };
    await round("first");
    const learnt = spy.requests.length;
    await round("second");

    expect(rejects).toEqual([]);
    expect(client.stats()).toMatchObject({ sent: 82, rejected: 0, dropped: 0, pending: 0 });
    const traces = await tracesOf(db, client.chatId!);
    expect(traces.filter((tr) => tr.status === "ok")).toHaveLength(41);
    // Once refused for its size, the client keeps to the server's limits: no request of the second
    // round has more than 2 fields or 3 finished calls (sending items one by one would also fit, so
    // the second round must also not fall back to that: fewer requests than its 40 operations).
    const second = spy.requests.slice(learnt);
    const items = (r: (typeof second)[number]) => Object.values(r.body.variables).reduce((n: number, v) => n + (((v as { items?: unknown[] }).items?.length) ?? 0), 0);
    console.log(`second round against 2 aliases / 3 items a batch: ${second.length} requests, ${second.map((r) => `${r.fields}f/${items(r)}i`).join(" ")}`);
    for (const r of second) {
      expect(r.fields).toBeLessThanOrEqual(2);
      expect(items(r)).toBeLessThanOrEqual(3);
    }
    expect(second.length).toBeLessThan(20);
    await client.close();
  });

  test("429 and 503 are retried with backoff, honouring Retry-After (capped)", async () => {
    const server = await scriptedServer([chatCreated, json(429, { errors: [{ message: "slow down" }] }, { "retry-after": "0.3" }), json(503, { errors: [{ message: "The database is unavailable; retry shortly", extensions: { code: "DATABASE_UNAVAILABLE" } }] }), recorded]);
    const client = createClient({ url: server.url, logger: null, retryBaseMs: 10, retryMaxMs: 1_000 });
    await client.traceTool("t", {}, () => 1);
    expect(await client.flush({ timeoutMs: 10_000 })).toBe(true);
    expect(client.stats()).toMatchObject({ sent: 2, retries: 2, rejected: 0, dropped: 0 });
    const [, first, second] = server.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(290); // waited as Retry-After said
    expect(server.requests).toHaveLength(4);
    // A retry says exactly what the first attempt said (tool call id, times), so the server sees a replay.
    expect(new Set(server.requests.slice(1).map((r) => r.body)).size).toBe(1);
    await client.close();
    await server.close();
  });

  test("a snapshot's turn is pinned before its first attempt, so a retry after a lost answer is a replay", async () => {
    const saved = json(200, { data: { saveSnapshot: { __typename: "SnapshotRevision", turn: 1 } } });
    const server = await scriptedServer([chatCreated, json(502, {}), json(504, {}), saved, json(200, { data: { saveSnapshot: { __typename: "SnapshotRevision", turn: 2 } } })]);
    const client = createClient({ url: server.url, logger: null, retryBaseMs: 5, retryMaxMs: 20 });
    client.saveSnapshot({ step: 1 });
    client.saveSnapshot({ step: 2 });
    expect(await client.flush({ timeoutMs: 5_000 })).toBe(true);
    expect(client.stats()).toMatchObject({ sent: 2, retries: 2 });
    const sent = server.requests.slice(1).map((r) => JSON.parse(r.body).variables.v0 as { turn?: number; state: unknown });
    expect(sent.map((v) => [v.turn, v.state])).toEqual([
      [1, { step: 1 }],
      [1, { step: 1 }],
      [1, { step: 1 }],
      [2, { step: 2 }],
    ]);
    await client.close();
    await server.close();
  });

  test("an unexpected server error (500) is retried a bounded number of times, then rejected", async () => {
    const server = await scriptedServer([chatCreated, json(500, { errors: [{ message: "Unexpected error." }] })]);
    const rejects: RejectInfo[] = [];
    const client = createClient({ url: server.url, logger: null, retryBaseMs: 5, retryMaxMs: 20, maxItemAttempts: 3, onReject: (r) => rejects.push(r) });
    await client.traceTool("t", {}, () => 1);
    expect(await client.flush({ timeoutMs: 10_000 })).toBe(true);
    expect(client.stats()).toMatchObject({ sent: 0, rejected: 2, pending: 0 });
    expect(server.requests).toHaveLength(1 + 3);
    expect(rejects[0]!.message).toMatch(/gave up after 3 attempts: HTTP 500: Unexpected error\./);
    await client.close();
    await server.close();
  });

  test("a refusal (403) is not retried; a bad request (400) is narrowed down to the item it names", async () => {
    const refusing = await scriptedServer([json(403, { errors: [{ message: "Host is not one of this server's names", extensions: { code: "HOST_NOT_ALLOWED" } }] })]);
    const refused = createClient({ url: refusing.url, logger: null, retryBaseMs: 5 });
    await refused.traceTool("t", {}, () => 1);
    await refused.traceTool("t", {}, () => 2);
    expect(await refused.flush({ timeoutMs: 5_000 })).toBe(true);
    // The chat could not be created: every item is rejected, once, with the server's reason.
    expect(refused.stats()).toMatchObject({ sent: 0, rejected: 4, retries: 0 });
    expect(refused.stats().lastError).toMatch(/HTTP 403: Host is not one/);
    expect(refusing.requests).toHaveLength(1);
    await refused.close();
    await refusing.close();

    // A 400 for a request of several items: sent again one item per request; only the bad one is refused.
    const picky = await scriptedServer([
      chatCreated,
      (req, res) => json(400, { errors: [{ message: "Variable \"$v0\" got invalid value" }] })(req, res),
      recorded,
      json(400, { errors: [{ message: "Variable \"$v0\" got invalid value" }] }),
      recorded,
    ]);
    const client = createClient({ url: picky.url, logger: null, retryBaseMs: 5 });
    await client.traceTool("a", {}, () => 1);
    await client.traceTool("b", {}, () => 2);
    await client.traceTool("c", {}, () => 3);
    expect(await client.flush({ timeoutMs: 5_000 })).toBe(true);
    expect(client.stats()).toMatchObject({ sent: 4, rejected: 2, retries: 0 });
    const names = picky.requests.slice(1).map((r) => (JSON.parse(r.body).variables.v0.items as { toolName: string }[]).map((i) => i.toolName).join(""));
    expect(names).toEqual(["abc", "a", "b", "c"]);
    await client.close();
    await picky.close();
  });
});
