// The SDK (sdk/src) against the app over real HTTP on a real database: traceTool records a start and
// a finish, the start reaches a graphql-ws subscriber within 100 ms while the tool still runs,
// return values and thrown errors come back unchanged, calls are batched into few requests, snapshots
// close turns, typed refusals are counted as rejected (never retried) while the rest of a batch
// lands, and Tracedeck's own troubles never reach the caller.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createClient, type RejectInfo } from "../../sdk/src/index.js";
import { execute, mutationResult, startTestApp, type TestApp, wsClients } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { freePort, recordingFetch, revisionsOf, sleep, tracesOf, until, warnings } from "./sdk-helpers.js";

let db: TestDatabase;
let t: TestApp;
const clients = wsClients(() => t.wsUrl);

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
});
afterAll(async () => {
  await clients.disposeAll();
  await t?.stop();
  await db?.destroy();
});

describe("traceTool against a running server", () => {
  // The 100 ms figure is measured against a server process (server-process.test.ts): here the server's
  // PGlite shares this process's event loop with the client and the subscriber.
  test("records start and finish; each start reaches a subscriber while the tool runs; the value comes back unchanged", async () => {
    const client = createClient({ url: t.url, chatTitle: "sdk: start latency", logger: null });
    await client.traceTool("warm_up", {}, () => "ready");
    expect(await client.flush()).toBe(true);
    const chatId = client.chatId!;
    expect(chatId).toMatch(/^[0-9a-f-]{36}$/);

    // Each start's arrival, stamped by the subscriber the moment its frame comes in.
    const arrivals = new Map<string, { at: number; status: string }>();
    const dispose = clients.client().subscribe<{ toolTraceStarted: { toolCallId: string; status: string } }>(
      { query: `subscription($c: ID!) { toolTraceStarted(chatId: $c) { toolCallId status } }`, variables: { c: chatId } },
      {
        next: ({ data }) => void (data && arrivals.set(data.toolTraceStarted.toolCallId, { at: performance.now(), status: data.toolTraceStarted.status })),
        error: () => {},
        complete: () => {},
      },
    );
    // Live-only: probe until a start comes through, so the measured calls find the subscription open.
    const probeUntil = Date.now() + 60_000;
    for (let i = 0; ![...arrivals.keys()].some((id) => id.startsWith("probe_")); i++) {
      if (Date.now() > probeUntil) throw new Error("the subscription never delivered");
      await client.traceTool("probe", {}, () => sleep(50), { toolCallId: `probe_${i}` });
    }

    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const returned = { files: [`f${i}.ts`], nested: { i } };
      const callId = `call_latency_${i}`;
      const began = performance.now();
      const result = await client.traceTool(
        "read_file",
        { path: `f${i}.ts` },
        async () => {
          // The tool runs until its start has been seen live (or gives up after 3 s, failing below).
          await until(() => arrivals.has(callId), 3_000, `the start of ${callId}`).catch(() => {});
          expect(arrivals.get(callId)?.status).toBe("running");
          latencies.push(arrivals.get(callId)!.at - began);
          // Still running: the trace in the database has no finish yet.
          expect((await db.prisma.toolTrace.findFirst({ where: { chatId, toolCallId: callId } }))?.status).toBe("running");
          return returned;
        },
        { toolCallId: callId },
      );
      expect(result).toBe(returned);
    }
    dispose();
    expect(latencies).toHaveLength(5);

    expect(await client.flush()).toBe(true);
    const traces = (await tracesOf(db, chatId)).filter((tr) => tr.toolName !== "probe");
    expect(traces.map((tr) => tr.toolName).sort()).toEqual([...Array(5).fill("read_file"), "warm_up"]);
    const last = traces.find((tr) => tr.toolCallId === "call_latency_4")!;
    expect(last).toMatchObject({ status: "ok", toolInput: { path: "f4.ts" }, toolOutput: JSON.stringify({ files: ["f4.ts"], nested: { i: 4 } }), error: null });
    expect(last.finishedAt!.getTime()).toBeGreaterThanOrEqual(last.startedAt.getTime());
    expect(last.latencyMs).toBe(last.finishedAt!.getTime() - last.startedAt.getTime());
    expect(traces.find((tr) => tr.toolName === "warm_up")!.toolCallId).toMatch(/^tdsdk_[0-9a-f-]{36}$/);
    expect(client.stats()).toMatchObject({ pending: 0, dropped: 0, rejected: 0, retries: 0 });
    expect(client.stats().sent).toBe(2 * (await tracesOf(db, chatId)).length);
    await client.close();
  });

  test("a thrown error is recorded as status error with its message and rethrown as the same object", async () => {
    const client = createClient({ url: t.url, chatTitle: "sdk: errors", logger: null });
    class ToolFailure extends Error {
      code = "E_TOOL";
    }
    const thrown = new ToolFailure("build failed: 3 errors");
    await expect(client.traceTool("run_command", { program: "npm" }, async () => Promise.reject(thrown))).rejects.toBe(thrown);
    const sync = new TypeError("bad path");
    await expect(client.traceTool("read_file", { path: "" }, () => { throw sync; })).rejects.toBe(sync);
    const plain = { reason: "not an Error" };
    await expect(client.traceTool("odd_tool", {}, () => { throw plain; })).rejects.toBe(plain);
    await expect(client.traceTool("string_tool", {}, () => { throw "just text"; })).rejects.toBe("just text");
    // A value that looks like an error is still a value.
    const errorValue = new Error("returned, not thrown");
    expect(await client.traceTool("returns_error", {}, () => errorValue)).toBe(errorValue);

    expect(await client.flush()).toBe(true);
    const traces = await tracesOf(db, client.chatId!);
    const byName = (a: unknown[], b: unknown[]) => String(a[0]).localeCompare(String(b[0]));
    expect(traces.map((tr) => [tr.toolName, tr.status, tr.error, tr.toolOutput]).sort(byName)).toEqual(
      [
        ["run_command", "error", "build failed: 3 errors", null],
        ["read_file", "error", "bad path", null],
        ["odd_tool", "error", JSON.stringify(plain), null],
        ["string_tool", "error", "just text", null],
        ["returns_error", "ok", null, JSON.stringify({ name: "Error", message: "returned, not thrown" })],
      ].sort(byName),
    );
    await client.close();
  });

  test("concurrent calls travel in few requests: starts as aliased fields, finishes in one recordToolTraces", async () => {
    const spy = recordingFetch();
    const client = createClient({ url: t.url, chatTitle: "sdk: batching", logger: null, fetch: spy.fetch });
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        client.traceTool("grep", { pattern: `p${i}` }, async () => {
          await sleep(150); // long enough for the starts to be sent before the finishes
          return `match ${i}`;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 60 }, (_, i) => `match ${i}`));
    expect(await client.flush()).toBe(true);

    const traces = await tracesOf(db, client.chatId!);
    expect(traces).toHaveLength(60);
    expect(traces.every((tr) => tr.status === "ok")).toBe(true);
    expect(new Set(traces.map((tr) => tr.toolOutput))).toEqual(new Set(results));
    const writes = spy.requests.filter((r) => !/createChat/.test(r.body.query));
    const fields = writes.reduce((n, r) => n + r.fields, 0);
    console.log(`60 concurrent calls: ${writes.length} write requests, ${fields} mutation fields, largest ${Math.max(...writes.map((r) => r.fields))} fields`);
    // 60 starts at 16 fields a request, then the 60 finishes in recordToolTraces fields.
    expect(writes.length).toBeLessThanOrEqual(8);
    expect(Math.max(...writes.map((r) => r.fields))).toBeLessThanOrEqual(16);
    expect(client.stats()).toMatchObject({ sent: 120, pending: 0, dropped: 0, rejected: 0 });
    await client.close();
  });

  test("a finish that comes before its start is acknowledged lands on that start's trace, even when the start's answer is lost", async () => {
    // The first request carrying a start is held 200 ms on its way (the tool finishes meanwhile), then
    // reaches the server, but its answer is lost: the client must send it again.
    let held = false;
    const seenBodies: string[] = [];
    const slowStart: typeof fetch = async (input, init) => {
      const body = String(init?.body);
      seenBodies.push(body);
      if (!held && body.includes("startToolTrace(")) {
        held = true;
        await sleep(200);
        await fetch(input, init);
        throw new TypeError("fetch failed", { cause: { code: "ECONNRESET" } });
      }
      return fetch(input, init);
    };
    const client = createClient({ url: t.url, chatTitle: "sdk: early finish", logger: null, fetch: slowStart, retryBaseMs: 20, retryMaxMs: 50 });
    await client.traceTool("warm_up", {}, () => 0);
    expect(await client.flush()).toBe(true);
    expect(await client.traceTool("edit_file", { path: "a.ts" }, () => sleep(30).then(() => "edited"), { toolCallId: "call_early" })).toBe("edited");
    expect(await client.flush()).toBe(true);

    const traces = (await tracesOf(db, client.chatId!)).filter((tr) => tr.toolName === "edit_file");
    expect(traces).toHaveLength(1);
    expect(traces[0]).toMatchObject({ toolCallId: "call_early", status: "ok", toolOutput: "edited", toolInput: { path: "a.ts" } });
    expect(traces[0]!.latencyMs).toBeGreaterThanOrEqual(30);
    // The finish went on its own (its start was in flight), and the start was sent twice, the same.
    const startBodies = seenBodies.filter((b) => b.includes("call_early") && b.includes("startToolTrace("));
    expect(startBodies.length).toBeGreaterThanOrEqual(2);
    expect(new Set(startBodies.map((b) => JSON.stringify(JSON.parse(b).variables.v0))).size).toBe(1);
    expect(client.stats()).toMatchObject({ sent: 4, pending: 0, rejected: 0, dropped: 0 });
    expect(client.stats().retries).toBeGreaterThanOrEqual(1);
    await client.close();
  });

  test("a start never waits behind a slow batch of finishes; its own finish waits for it", async () => {
    // Every request with finishes is held 300 ms on its way; requests with starts go straight on.
    const log: { kind: "start" | "record"; ids: string[]; sentAt: number; doneAt: number }[] = [];
    const slowRecords: typeof fetch = async (input, init) => {
      const body = String(init?.body);
      const entry = { kind: body.includes("recordToolTraces(") ? ("record" as const) : ("start" as const), ids: [...body.matchAll(/"toolCallId":"([^"]+)"/g)].map((m) => m[1]!), sentAt: performance.now(), doneAt: 0 };
      if (!body.includes("createChat(")) log.push(entry);
      if (entry.kind === "record") await sleep(300);
      const response = await fetch(input, init);
      entry.doneAt = performance.now();
      return response;
    };
    const client = createClient({ url: t.url, chatTitle: "sdk: express starts", logger: null, fetch: slowRecords });
    await client.traceTool("warm_up", {}, () => 0, { toolCallId: "w" });
    expect(await client.flush()).toBe(true);

    await client.traceTool("first", {}, () => sleep(20), { toolCallId: "a" });
    await until(() => log.some((r) => r.kind === "record" && r.ids.includes("a")), 5_000, "the finish of a on its way"); // and held there
    const began = performance.now();
    expect(await client.traceTool("second", {}, () => sleep(50).then(() => "b done"), { toolCallId: "b" })).toBe("b done");
    expect(await client.flush()).toBe(true);

    const startB = log.find((r) => r.kind === "start" && r.ids.includes("b"))!;
    const recordA = log.find((r) => r.kind === "record" && r.ids.includes("a"))!;
    const recordB = log.find((r) => r.kind === "record" && r.ids.includes("b"))!;
    expect(startB.sentAt - began).toBeLessThan(20); // left at once...
    expect(startB.sentAt).toBeLessThan(recordA.doneAt); // ...beside the held batch, not after it
    expect(recordB.sentAt).toBeGreaterThanOrEqual(startB.doneAt); // a finish never overtakes its start
    const traces = await tracesOf(db, client.chatId!);
    expect(traces.map((tr) => [tr.toolCallId, tr.status]).sort()).toEqual([
      ["a", "ok"],
      ["b", "ok"],
      ["w", "ok"],
    ]);
    await client.close();
  });

  test("saveSnapshot closes turns in order with the calls around it; an explicit turn skips ahead", async () => {
    const client = createClient({ url: t.url, chatTitle: "sdk: turns", logger: null });
    await client.traceTool("list_files", {}, () => ["a.ts"]);
    client.saveSnapshot({ messages: [{ role: "user", content: "turn one" }] });
    await client.traceTool("read_file", { path: "a.ts" }, () => "text");
    client.saveSnapshot({ messages: [{ role: "user", content: "turn two" }] });
    await client.traceTool("write_file", { path: "b.ts" }, () => "written");
    client.saveSnapshot({ step: "five" }, { turn: 5 });
    await client.traceTool("run_command", { program: "npm" }, () => "ok");
    expect(await client.flush()).toBe(true);

    const chatId = client.chatId!;
    const traces = (await tracesOf(db, chatId)).sort((a, b) => a.turnNumber - b.turnNumber);
    expect(traces.map((tr) => [tr.toolName, tr.turnNumber])).toEqual([
      ["list_files", 1],
      ["read_file", 2],
      ["write_file", 3],
      ["run_command", 6],
    ]);
    const revisions = await revisionsOf(db, chatId);
    expect(revisions.map((r) => [r.turn, r.state])).toEqual([
      [1, { messages: [{ role: "user", content: "turn one" }] }],
      [2, { messages: [{ role: "user", content: "turn two" }] }],
      [5, { step: "five" }],
    ]);
    expect(client.stats()).toMatchObject({ sent: 11, rejected: 0 });
    await client.close();
  });

  test("a client on an existing chat learns its open turn before pinning a snapshot to it", async () => {
    const chat = mutationResult(await execute(t.app, `mutation { createChat(input: { title: "existing" }) { __typename ... on Chat { id uuid } } }`));
    const first = createClient({ url: t.url, chatId: chat.id as string, logger: null });
    await first.traceTool("t1", {}, () => 1);
    first.saveSnapshot({ n: 1 });
    await first.close();
    // A second client (another process of the same agent) attaches by UUID: its snapshot gets turn 2.
    const second = createClient({ url: `${t.url}/graphql`, chatId: chat.uuid as string, logger: null });
    second.saveSnapshot({ n: 2 });
    await second.traceTool("t3", {}, () => 3);
    expect(await second.flush()).toBe(true);
    const revisions = await revisionsOf(db, chat.uuid as string);
    expect(revisions.map((r) => r.turn)).toEqual([1, 2]);
    expect((await tracesOf(db, chat.uuid as string)).map((tr) => [tr.toolName, tr.turnNumber]).sort()).toEqual([
      ["t1", 1],
      ["t3", 3],
    ]);
    await second.close();
  });

  test("typed refusals are counted as rejected and never retried; the rest of the batch still lands", async () => {
    const rejects: RejectInfo[] = [];
    const spy = recordingFetch();
    const seen = warnings();
    const client = createClient({ url: t.url, chatTitle: "sdk: rejects", logger: seen.logger, fetch: spy.fetch, onReject: (info) => rejects.push(info) });
    // Three fast calls: each start merges with its finish, and the three go in one recordToolTraces.
    await client.traceTool("good_1", {}, () => 1);
    await client.traceTool("x".repeat(300), {}, () => 2); // toolName is at most 256 characters
    await client.traceTool("good_2", {}, () => 3);
    client.saveSnapshot([1, 2, 3] as unknown as Record<string, unknown>); // state must be an object
    expect(await client.flush()).toBe(true);

    const traces = await tracesOf(db, client.chatId!);
    expect(traces.map((tr) => [tr.toolName, tr.status]).sort()).toEqual([
      ["good_1", "ok"],
      ["good_2", "ok"],
    ]);
    expect(client.stats()).toMatchObject({ sent: 4, pending: 0, rejected: 3, dropped: 0, retries: 0 });
    expect(rejects.map((r) => [r.kind, r.count])).toEqual([
      ["finish", 2],
      ["snapshot", 1],
    ]);
    expect(rejects[0]!.message).toMatch(/ValidationError.*toolName/);
    expect(seen.lines).toHaveLength(1);
    expect(seen.lines[0]).toMatch(/refused/);
    // The bad item went once, the good ones twice (the batch was refused whole, then resent without it).
    const sends = spy.requests.filter((r) => JSON.stringify(r.body.variables).includes('"x'));
    expect(sends).toHaveLength(1);
    await client.close();
  });

  test("Tracedeck's own troubles never reach the caller: odd inputs, a dead server, failing callbacks", async () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const throwingGetter = Object.defineProperty({}, "boom", { enumerable: true, get: () => { throw new Error("getter"); } });
    const odd = { big: 10n ** 30n, cyclic, throwingGetter, fn: () => 1, when: new Date(0), nan: Number.NaN, set: new Set([1]), map: new Map([["k", 2]]) };

    const client = createClient({ url: t.url, chatTitle: "sdk: odd inputs", logger: null });
    expect(await client.traceTool("odd", odd, () => cyclic)).toBe(cyclic);
    expect(await client.flush()).toBe(true);
    const [trace] = await tracesOf(db, client.chatId!);
    expect(trace!.toolInput).toEqual({
      big: "1000000000000000000000000000000",
      cyclic: { name: "loop", self: "[Circular]" },
      throwingGetter: "[Unserializable]",
      when: "1970-01-01T00:00:00.000Z",
      nan: null,
      set: [1],
      map: { k: 2 },
    });
    expect(trace!.toolOutput).toBe(JSON.stringify({ name: "loop", self: "[Circular]" }));
    await client.close();

    // Nothing listens on this port; every callback and the logger throw; the fetch itself throws.
    const dead = createClient({
      url: `http://127.0.0.1:${await freePort()}`,
      retryBaseMs: 10,
      retryMaxMs: 20,
      maxQueueItems: 1,
      logger: { warn: () => { throw new Error("logger"); } },
      onDrop: () => { throw new Error("onDrop"); },
      onReject: () => { throw new Error("onReject"); },
    });
    for (let i = 0; i < 5; i++) expect(await dead.traceTool("t", { i }, async () => i)).toBe(i);
    dead.saveSnapshot({ cyclic });
    const throwingFetch = createClient({ url: t.url, logger: null, fetch: () => { throw new Error("fetch exploded"); }, retryBaseMs: 10, retryMaxMs: 20 });
    expect(await throwingFetch.traceTool("t", {}, () => "fine")).toBe("fine");
    await sleep(100);
    expect(dead.stats().dropped).toBeGreaterThan(0);
    expect(dead.stats().retries).toBeGreaterThan(0);
    expect(throwingFetch.stats().lastError).toMatch(/fetch exploded/);
    const closed = await dead.close({ timeoutMs: 50 });
    expect(closed.pending).toBe(0);
    expect(closed.sent + closed.dropped + closed.rejected).toBe(11);
    await throwingFetch.close({ timeoutMs: 50 });
    // After close a call still runs; its trace is counted as dropped.
    expect(await dead.traceTool("after_close", {}, () => "still runs")).toBe("still runs");
    expect(dead.stats().dropped).toBe(closed.dropped + 2);
  });

  test("the API key goes as a Bearer header and never into a warning", async () => {
    const key = "tdk_secret_0123456789";
    const spy = recordingFetch();
    const seen = warnings();
    const up = createClient({ url: t.url, apiKey: key, chatTitle: "sdk: key", logger: seen.logger, fetch: spy.fetch });
    await up.traceTool("t", {}, () => 1);
    expect(await up.flush()).toBe(true);
    expect(spy.requests.length).toBeGreaterThan(0);
    for (const r of spy.requests) expect(r.headers.authorization).toBe(`Bearer ${key}`);
    expect(spy.requests[0]!.headers["content-type"]).toBe("application/json");
    expect(spy.requests[0]!.headers.origin).toBeUndefined();
    await up.close();

    const down = createClient({ url: `http://user:pw@127.0.0.1:${await freePort()}`, apiKey: key, logger: seen.logger, retryBaseMs: 10, retryMaxMs: 20, maxQueueItems: 1 });
    await down.traceTool("t", {}, () => 1);
    await down.traceTool("t", {}, () => 2);
    await sleep(60);
    await down.close({ timeoutMs: 20 });
    expect(seen.lines.length).toBeGreaterThanOrEqual(2); // cannot deliver, dropping
    for (const line of seen.lines) {
      expect(line).not.toContain(key);
      expect(line).not.toContain("pw");
    }
    expect(JSON.stringify(down.stats())).not.toContain(key);
  });
});
