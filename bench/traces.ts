// Benchmark: trace ingest and deep keyset paging, each next to a baseline measured in the same run.
//   npm run bench                      # embedded PGlite in a temporary folder
//   DATABASE_URL=postgresql://… npm run bench
// Figures only: nothing here passes or fails.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { buildApp } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { openDatabase, setPrisma } from "../server/db/client.js";
import { migrate } from "../server/db/migrate.js";
import { silentLogger } from "../server/logger.js";

const N = Number(process.env.BENCH_TRACES ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), "tracedeck-bench-"));
const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: dir });
const conn = await db.openSqlConnection();
await migrate(conn);
setPrisma(db.prisma);
const app = buildApp({ config: loadConfig({ PORT: "0", LOG_LEVEL: "silent" }), db, log: silentLogger });
await app.ready();
const { services } = app;

const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
};
const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString("en")}/s`;
const row = (what: string, figure: string, note = "") => console.log(`${what.padEnd(52)} ${figure.padStart(14)}  ${note}`);

console.log(`Tracedeck benchmark: ${db.kind}, ${N.toLocaleString("en")} traces, node ${process.version}\n`);

// 1. Ingest: recordToolTraces batches of 500 against a raw multi-row INSERT of the same rows.
const baselineChat = await services.chats.create({ title: "baseline" });
const [, rawMs] = await time(async () => {
  for (let i = 0; i < N; i += 500) {
    const values: string[] = [];
    const params: unknown[] = [];
    for (let j = i; j < Math.min(N, i + 500); j++) {
      const at = new Date(Date.UTC(2026, 0, 1) + j * 10).toISOString();
      params.push(randomUUID(), baselineChat.id, baselineChat.currentSessionId, `tool_${j % 7}`, at);
      const k = params.length;
      values.push(`($${k - 4}::uuid, $${k - 3}::uuid, $${k - 2}::uuid, 1, $${k - 1}, '{}'::jsonb, $${k}::timestamptz, 'ok', 'x')`);
    }
    await conn.query(
      `INSERT INTO tool_traces (id, chat_id, session_id, turn_number, tool_name, tool_input, started_at, status, start_hash) VALUES ${values.join(",")}`,
      params,
    );
  }
});
row("baseline: raw multi-row INSERT (500 a statement)", rate(N, rawMs), "no events, no checks");

const chat = await services.chats.create({ title: "bench" });
const [, batchMs] = await time(async () => {
  for (let i = 0; i < N; i += 500) {
    const items = Array.from({ length: Math.min(500, N - i) }, (_, k) => {
      const j = i + k;
      const startedAt = new Date(Date.UTC(2026, 0, 1) + Math.floor(j / 4) * 10); // 4 traces share each startedAt
      return {
        chatId: chat.id,
        toolName: `tool_${j % 7}`,
        toolInput: { path: `src/file_${j}.ts` },
        messageId: `msg_${Math.floor(j / 3)}`,
        startedAt,
        finishedAt: new Date(startedAt.getTime() + (j % 97)),
        output: "ok",
        tokens: { input: 100, output: 20 },
      };
    });
    await services.traces.recordBatch(items);
  }
});
row("recordToolTraces service (batches of 500)", rate(N, batchMs), "2 events a trace, validation, steps");

const singles = Math.min(500, N);
const [, singleMs] = await time(async () => {
  for (let i = 0; i < singles; i++) {
    const trace = await services.traces.start({ chatId: chat.id, toolName: "read_file", toolInput: { i } });
    await services.traces.finish({ traceId: trace.id, output: "done" });
  }
});
row(`start + finish, one call each (${singles})`, rate(singles, singleMs), "traces a second, 2 transactions each");

// 2. Paging: a keyset seek deep into the chat against Prisma's cursor API (sub-select + OFFSET 1).
const deep = await db.prisma.toolTrace.findMany({ where: { chatId: chat.id }, orderBy: [{ startedAt: "asc" }, { id: "asc" }], skip: Math.floor(N * 0.9), take: 1 });
const pivot = deep[0]!;
const reps = 50;
const [, keysetMs] = await time(async () => {
  for (let i = 0; i < reps; i++) {
    await db.prisma.toolTrace.findMany({
      where: { AND: [{ chatId: chat.id }, { startedAt: { gte: pivot.startedAt } }, { OR: [{ startedAt: { gt: pivot.startedAt } }, { id: { gt: pivot.id } }] }] },
      orderBy: [{ startedAt: "asc" }, { id: "asc" }],
      take: 51,
    });
  }
});
const [, prismaCursorMs] = await time(async () => {
  for (let i = 0; i < reps; i++) {
    await db.prisma.toolTrace.findMany({ where: { chatId: chat.id }, cursor: { id: pivot.id }, skip: 1, orderBy: [{ startedAt: "asc" }, { id: "asc" }], take: 51 });
  }
});
const [, offsetMs] = await time(async () => {
  for (let i = 0; i < reps; i++) {
    await db.prisma.toolTrace.findMany({ where: { chatId: chat.id }, orderBy: [{ startedAt: "asc" }, { id: "asc" }], skip: Math.floor(N * 0.9), take: 51 });
  }
});
row("page of 50 at 90% depth: keyset seek (ours)", `${(keysetMs / reps).toFixed(2)} ms`);
row("baseline: Prisma cursor API", `${(prismaCursorMs / reps).toFixed(2)} ms`);
row("baseline: OFFSET", `${(offsetMs / reps).toFixed(2)} ms`);

// 3. Live: from the start of a startToolTrace request to its frame on a graphql-ws subscriber, next to
// the round trip of the mutation itself (the baseline: what a client waits for its own write).
const url = await app.start(0);
const ws = createClient({ url: url.replace(/^http/, "ws") + "/graphql", webSocketImpl: WebSocket, retryAttempts: 0 });
const liveChat = await services.chats.create({ title: "live" });
const arrivals = new Map<string, number>();
let onFrame: (() => void) | undefined;
const unsubscribe = ws.subscribe<{ toolTraceStarted: { toolName: string } }>(
  { query: `subscription($c: ID!) { toolTraceStarted(chatId: $c) { toolName } }`, variables: { c: liveChat.id } },
  { next: (m) => { arrivals.set(m.data!.toolTraceStarted.toolName, performance.now()); onFrame?.(); }, error: () => {}, complete: () => {} },
);
const mutation = `mutation($c: ID!, $n: String!) { startToolTrace(input: {chatId: $c, toolName: $n}) { __typename } }`;
const post = (name: string) =>
  fetch(url + "/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: mutation, variables: { c: liveChat.id, n: name } }) });
for (let i = 0; arrivals.size === 0 && i < 100; i++) {
  await post(`warmup-${i}`);
  await new Promise((r) => setTimeout(r, 50));
}
const frameMs: number[] = [];
const roundTripMs: number[] = [];
for (let i = 0; i < 200; i++) {
  const name = `call-${i}`;
  const frame = new Promise<void>((resolve) => (onFrame = () => arrivals.has(name) && resolve()));
  const t0 = performance.now();
  await post(name);
  roundTripMs.push(performance.now() - t0);
  await frame;
  frameMs.push(arrivals.get(name)! - t0);
}
unsubscribe();
await ws.dispose();
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(1);
row("live: startToolTrace request -> frame at subscriber", `p50 ${pct(frameMs, 0.5)} ms`, `p95 ${pct(frameMs, 0.95)} ms (200 calls)`);
row("baseline: the mutation's own HTTP round trip", `p50 ${pct(roundTripMs, 0.5)} ms`, `p95 ${pct(roundTripMs, 0.95)} ms`);

const heap = process.memoryUsage();
row("process memory after the run (rss / heap used)", `${Math.round(heap.rss / 2 ** 20)} / ${Math.round(heap.heapUsed / 2 ** 20)} MiB`);

await app.stop();
await conn.close();
await db.close();
rmSync(dir, { recursive: true, force: true });
