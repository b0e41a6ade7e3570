// Benchmark: POST /hooks/claude-code latency over real HTTP (a keep-alive agent, one request at a
// time), next to a baseline measured in the same run: a plain GraphQL startToolTrace mutation over
// the same agent, the same count, the two interleaved request by request so that a noisy machine
// weighs on both alike. Then where a hook's time goes: SQL statements and transactions per event,
// time inside the database, the same hooks in process (no HTTP).
//   npm run bench:hooks                      # embedded PGlite in a temporary folder
//   DATABASE_URL=postgresql://… npm run bench:hooks
//   BENCH_HOOKS=2000 BENCH_HOOKS_WARMUP=200 BENCH_HOOKS_SESSIONS=4
//   BENCH_HOOKS_SQL=1      also print the SQL of one delivery of each event
//   BENCH_HOOKS_CPUPROF=1  also sample the CPU over 500 more hooks (HTTP) and print self time by where the code lives
// Figures only: nothing here passes or fails.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { cpus, loadavg, totalmem, tmpdir } from "node:os";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { buildApp } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { openDatabase, setPrisma } from "../server/db/client.js";
import { migrate } from "../server/db/migrate.js";
import { silentLogger } from "../server/logger.js";

const N = Number(process.env.BENCH_HOOKS ?? 2_000);
const WARMUP = Number(process.env.BENCH_HOOKS_WARMUP ?? 200);
const SESSIONS = Number(process.env.BENCH_HOOKS_SESSIONS ?? 4);
const SHOW_SQL = process.env.BENCH_HOOKS_SQL === "1";
const CPU_PROFILE = process.env.BENCH_HOOKS_CPUPROF === "1";
const TARGET_P99_MS = 20;

// --- What the database is asked, per request (PGlite only: its one connection is this process's).
// Every statement the Prisma adapter sends goes through PGlite's query/exec, or a transaction's
// (BEGIN and COMMIT are PGlite's own, counted with the transaction). On PostgreSQL each statement
// is a network round trip.
const probe = { statements: 0, transactions: 0, dbMs: 0, sql: [] as string[], recordSql: false };
{
  type Fn = (...args: unknown[]) => Promise<unknown>;
  const proto = PGlite.prototype as unknown as Record<string, Fn>;
  const timed = (fn: Fn): Fn =>
    async function (this: unknown, ...args: unknown[]) {
      probe.statements++;
      if (probe.recordSql) probe.sql.push(String(args[0]).replace(/\s+/g, " ").slice(0, 160));
      const t0 = performance.now();
      try {
        return await fn.apply(this, args);
      } finally {
        probe.dbMs += performance.now() - t0;
      }
    };
  for (const name of ["query", "exec"] as const) proto[name] = timed(proto[name]!);
  const transaction = proto.transaction!;
  proto.transaction = async function (this: unknown, callback: unknown) {
    probe.transactions++;
    probe.statements += 2; // BEGIN, COMMIT (or ROLLBACK)
    if (probe.recordSql) probe.sql.push("BEGIN");
    try {
      return await transaction.call(this, async (tx: Record<string, Fn>) => {
        for (const name of ["query", "exec"] as const) tx[name] = timed(tx[name]!.bind(tx));
        return (callback as (tx: unknown) => Promise<unknown>)(tx);
      });
    } finally {
      if (probe.recordSql) probe.sql.push("COMMIT");
    }
  };
}

const loadAtStart = loadavg()[0]!;
const dir = mkdtempSync(join(tmpdir(), "tracedeck-bench-hooks-"));
const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: dir });
const conn = await db.openSqlConnection();
await migrate(conn);
setPrisma(db.prisma);
// Transcripts are not read: the bodies name none, and reading is in the background after the answer.
const app = buildApp({ config: loadConfig({ PORT: "0", LOG_LEVEL: "silent" }), db, log: silentLogger, claudeCodeConfig: { readTranscripts: false } });
const url = await app.start(0);
const { services } = app;

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const target = new URL(url);
/** One POST over the keep-alive agent; resolves with the status once the answer is read. */
function postJson(path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.hostname, port: target.port, path, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

// --- The hook mix: each session in turn runs a turn: UserPromptSubmit, 1–6 tool calls (PreToolUse
// then PostToolUse, one in 15 a PostToolUseFailure), then Stop. Seeded, so every run sends the same.
let seed = 0x7d3f1c2a;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const sessions = Array.from({ length: SESSIONS }, () => randomUUID());
const common = (session: string) => ({ session_id: session, cwd: "/home/user/project", permission_mode: "default", prompt_id: randomUUID() });
const FILE = "export function add(a: number, b: number): number {\n  return a + b;\n}\n".repeat(24); // ~1.7 KB
const tools = [
  { tool_name: "Read", tool_input: { file_path: "/home/user/project/src/math.ts" }, tool_response: { type: "text", file: { filePath: "/home/user/project/src/math.ts", content: FILE, numLines: 72, startLine: 1, totalLines: 72 } } },
  { tool_name: "Bash", tool_input: { command: "npm test", description: "Run the tests" }, tool_response: { stdout: "Tests: 41 passed, 41 total\n".repeat(20), stderr: "", interrupted: false, isImage: false } },
  { tool_name: "Edit", tool_input: { file_path: "/home/user/project/src/math.ts", old_string: "a - b", new_string: "a + b" }, tool_response: { filePath: "/home/user/project/src/math.ts", oldString: "a - b", newString: "a + b", structuredPatch: [] } },
  { tool_name: "Grep", tool_input: { pattern: "add\\(", path: "src" }, tool_response: { mode: "files_with_matches", filenames: ["src/math.ts", "src/index.ts"], numFiles: 2 } },
];
type Hook = { event: string; body: string };
function* hookMix(): Generator<Hook> {
  for (let turn = 0; ; turn++) {
    const session = sessions[turn % sessions.length]!;
    yield { event: "UserPromptSubmit", body: JSON.stringify({ ...common(session), hook_event_name: "UserPromptSubmit", prompt: `Fix the failing test, take ${turn}` }) };
    const calls = 1 + Math.floor(random() * 6);
    for (let c = 0; c < calls; c++) {
      const tool = tools[Math.floor(random() * tools.length)]!;
      const tool_use_id = `toolu_${randomUUID().replaceAll("-", "")}`;
      const call = { ...common(session), tool_name: tool.tool_name, tool_input: tool.tool_input, tool_use_id };
      yield { event: "PreToolUse", body: JSON.stringify({ ...call, hook_event_name: "PreToolUse", effort: { level: "medium" } }) };
      const failed = random() < 1 / 15;
      yield failed
        ? { event: "PostToolUseFailure", body: JSON.stringify({ ...call, hook_event_name: "PostToolUseFailure", error: "Exit code 1\nnpm ERR! Test failed.", is_interrupt: false, duration_ms: 840 }) }
        : { event: "PostToolUse", body: JSON.stringify({ ...call, hook_event_name: "PostToolUse", tool_response: tool.tool_response, duration_ms: 12 + Math.floor(random() * 400) }) };
    }
    yield { event: "Stop", body: JSON.stringify({ ...common(session), hook_event_name: "Stop", stop_hook_active: false, last_assistant_message: `Done with take ${turn}: the test passes now.`, background_tasks: [], session_crons: [] }) };
  }
}

// The baseline: startToolTrace with a tool call id and an input, as the PreToolUse hook's start.
const baselineChat = await services.chats.create({ title: "baseline" });
const mutation = `mutation($input: StartToolTraceInput!) { startToolTrace(input: $input) { __typename } }`;
const baselineBody = () =>
  JSON.stringify({ query: mutation, variables: { input: { chatId: baselineChat.id, toolName: "Read", toolCallId: `toolu_${randomUUID().replaceAll("-", "")}`, toolInput: tools[0]!.tool_input } } });

interface Sample {
  event: string;
  ms: number;
  statements: number;
  transactions: number;
  dbMs: number;
}
async function measure(event: string, send: () => Promise<number>, expected: number): Promise<Sample> {
  const before = { ...probe };
  const t0 = performance.now();
  const status = await send();
  const ms = performance.now() - t0;
  if (status !== expected) throw new Error(`${event}: HTTP ${status}, expected ${expected}`);
  return { event, ms, statements: probe.statements - before.statements, transactions: probe.transactions - before.transactions, dbMs: probe.dbMs - before.dbMs };
}

const started = performance.now();
for (const session of sessions) {
  await postJson("/hooks/claude-code", JSON.stringify({ ...common(session), hook_event_name: "SessionStart", source: "startup", model: "claude-sonnet-4-5" }));
}
const mix = hookMix();
const hookSamples: Sample[] = [];
const baselineSamples: Sample[] = [];
for (let i = 0; i < WARMUP + N; i++) {
  const hook = mix.next().value as Hook;
  const h = await measure(hook.event, () => postJson("/hooks/claude-code", hook.body), 204);
  const b = await measure("startToolTrace", () => postJson("/graphql", baselineBody()), 200);
  if (i >= WARMUP) {
    hookSamples.push(h);
    baselineSamples.push(b);
  }
}
const httpSeconds = (performance.now() - started) / 1000;

// --- The same mix in process (app.claudeCode.handle: no HTTP, no JSON parse of the body), and the
// service call the baseline makes, to split a hook's time between HTTP and the ingest path.
const inProcess: Sample[] = [];
const serviceStart: Sample[] = [];
const inProcessCount = Math.min(N, 1000);
for (let i = 0; i < inProcessCount; i++) {
  const hook = mix.next().value as Hook;
  const parsed = JSON.parse(hook.body) as unknown;
  inProcess.push(await measure(hook.event, async () => (await app.claudeCode.handle(parsed), 204), 204));
  serviceStart.push(
    await measure("traces.start", async () => (await services.traces.start({ chatId: baselineChat.id, toolName: "Read", toolCallId: randomUUID(), toolInput: tools[0]!.tool_input }), 204), 204),
  );
}

// --- The SQL of one delivery of each event (BENCH_HOOKS_SQL=1).
const sqlByEvent = new Map<string, string[]>();
if (SHOW_SQL) {
  const seen = new Set<string>();
  probe.recordSql = true;
  while (seen.size < 5) {
    const hook = mix.next().value as Hook; // not for…of: a break would close the generator
    probe.sql = [];
    await postJson("/hooks/claude-code", hook.body); // the mix goes on in order: a PostToolUse needs its PreToolUse
    if (!seen.has(hook.event)) sqlByEvent.set(hook.event, probe.sql);
    seen.add(hook.event);
  }
  probe.sql = [];
  await postJson("/graphql", baselineBody());
  sqlByEvent.set("startToolTrace (baseline)", probe.sql);
  probe.recordSql = false;
}

// --- A CPU profile of more hooks over HTTP (BENCH_HOOKS_CPUPROF=1): self time by where the code lives.
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber?: number; columnNumber?: number };
  children?: number[];
}
const cpuByPlace = new Map<string, number>();
const cpuByFunction = new Map<string, number>();
let cpuTotalMs = 0;
if (CPU_PROFILE) {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  for (let i = 0; i < 500; i++) {
    const hook = mix.next().value as Hook;
    await postJson("/hooks/claude-code", hook.body);
  }
  const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
  session.disconnect();
  const place = (node: ProfileNode): string => {
    const { url: file, functionName } = node.callFrame;
    if (!file) return functionName.startsWith("(") ? functionName : `native: ${functionName || "(anonymous)"}`;
    if (file.startsWith("wasm://")) return wasmName(file);
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    if (pkg) return pkg[1]!;
    if (file.startsWith("node:")) return `node: ${file.slice(5).split("/")[0]}`;
    const ours = /\/(server\/[^/]+(?:\/[^/]+)?)\//.exec(file);
    if (ours) return ours[1]!.includes("generated") ? "server/db/generated (Prisma client)" : ours[1]!;
    return file.replace(/^.*\//, "");
  };
  // WebAssembly has no names here: a module is named after the package whose JavaScript calls
  // into it (PGlite's is PostgreSQL itself; Prisma's is its query compiler).
  const parentOf = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n);
  const callers = new Map<string, Map<string, number>>();
  for (const n of profile.nodes) {
    if (!n.callFrame.url.startsWith("wasm://")) continue;
    let up = parentOf.get(n.id);
    while (up && (up.callFrame.url === "" || up.callFrame.url.startsWith("wasm://"))) up = parentOf.get(up.id);
    const caller = (up && /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(up.callFrame.url)?.[1]) || "?";
    const votes = callers.get(n.callFrame.url) ?? callers.set(n.callFrame.url, new Map()).get(n.callFrame.url)!;
    votes.set(caller, (votes.get(caller) ?? 0) + 1);
  }
  const wasmNames = new Map<string, string>();
  for (const [file, votes] of callers) {
    const [caller] = [...votes].filter(([c]) => c !== "?").sort((a, b) => b[1] - a[1])[0] ?? [];
    if (caller) wasmNames.set(file, `${caller}: WebAssembly`);
  }
  function wasmName(file: string): string {
    return wasmNames.get(file) ?? "WebAssembly (other)";
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id)!;
    const where = place(node);
    if (where === "(idle)") return;
    cpuTotalMs += ms;
    cpuByPlace.set(where, (cpuByPlace.get(where) ?? 0) + ms);
    const fn = `${where} ${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.replace(/^.*node_modules\//, "")}:${node.callFrame.lineNumber}:${node.callFrame.columnNumber}`;
    cpuByFunction.set(fn, (cpuByFunction.get(fn) ?? 0) + ms);
  });
}

// --- Report.
const pct = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const f = (ms: number) => ms.toFixed(2);
const row = (cells: (string | number)[]) => console.log(`| ${cells.join(" | ")} |`);

console.log(
  `Tracedeck hook benchmark: ${db.kind}, ${N.toLocaleString("en")} requests each (after ${WARMUP} warm-up), ${SESSIONS} sessions, node ${process.version}, ` +
    `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}; HTTP phase ${httpSeconds.toFixed(1)} s\n`,
);
row(["", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms"]);
row(["---", "---", "---", "---", "---", "---", "---"]);
const latencyRow = (label: string, samples: Sample[]) => {
  const ms = samples.map((s) => s.ms);
  row([label, samples.length, f(pct(ms, 0.5)), f(pct(ms, 0.95)), f(pct(ms, 0.99)), f(Math.max(...ms)), f(mean(ms))]);
};
latencyRow("POST /hooks/claude-code (the mix)", hookSamples);
latencyRow("baseline: GraphQL startToolTrace over HTTP", baselineSamples);
const events = ["PreToolUse", "PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "Stop"];
latencyRow("  of which tool hooks (Pre/PostToolUse, PostToolUseFailure)", hookSamples.filter((s) => s.event.includes("ToolUse")));
for (const event of events) {
  const samples = hookSamples.filter((s) => s.event === event);
  if (samples.length) latencyRow(`  of which ${event}`, samples);
}

console.log("\nWhere the time goes (means per request; statements include BEGIN/COMMIT; DB ms is time awaiting PGlite):\n");
row(["", "requests", "mean ms", "statements", "transactions", "DB ms", "DB share"]);
row(["---", "---", "---", "---", "---", "---", "---"]);
const profileRow = (label: string, samples: Sample[]) => {
  if (samples.length === 0) return;
  const ms = mean(samples.map((s) => s.ms));
  const dbMs = mean(samples.map((s) => s.dbMs));
  row([label, samples.length, f(ms), mean(samples.map((s) => s.statements)).toFixed(1), mean(samples.map((s) => s.transactions)).toFixed(1), f(dbMs), `${Math.round((dbMs / ms) * 100)} %`]);
};
for (const event of events) profileRow(`HTTP ${event}`, hookSamples.filter((s) => s.event === event));
profileRow("HTTP startToolTrace (baseline)", baselineSamples);
for (const event of events) profileRow(`in process: claudeCode.handle ${event}`, inProcess.filter((s) => s.event === event));
profileRow("in process: services.traces.start", serviceStart);
{
  // Stop reads the chat's snapshot and saves it again with two more messages (up to 200 kept):
  // its cost follows the conversation's length.
  const stops = hookSamples.filter((s) => s.event === "Stop");
  const quarter = Math.max(1, Math.floor(stops.length / 4));
  const first = mean(stops.slice(0, quarter).map((s) => s.ms));
  const last = mean(stops.slice(-quarter).map((s) => s.ms));
  const turns = Math.ceil(stops.length / SESSIONS);
  console.log(`\nStop over the run (about ${turns} turns a session): mean ${f(first)} ms in the first quarter, ${f(last)} ms in the last.`);
}
if (db.kind !== "pglite") console.log("(PostgreSQL: statement counts and DB time are only probed on PGlite; read them as 0.)");

const p99 = pct(hookSamples.map((s) => s.ms), 0.99);
console.log(`\np99 < ${TARGET_P99_MS} ms: ${p99 < TARGET_P99_MS ? "met" : "NOT met"} (p99 ${f(p99)} ms; baseline p99 ${f(pct(baselineSamples.map((s) => s.ms), 0.99))} ms)`);

if (CPU_PROFILE) {
  console.log(`\nCPU self time over 500 more hooks over HTTP (the whole process, idle excluded): ${cpuTotalMs.toFixed(0)} ms, ${(cpuTotalMs / 500).toFixed(2)} ms a hook\n`);
  row(["where", "ms a hook", "share"]);
  row(["---", "---", "---"]);
  for (const [where, ms] of [...cpuByPlace].sort((a, b) => b[1] - a[1]).slice(0, 15)) row([where, (ms / 500).toFixed(2), `${((ms / cpuTotalMs) * 100).toFixed(1)} %`]);
  console.log("\nThe functions with the most self time:\n");
  row(["function", "ms a hook", "share"]);
  row(["---", "---", "---"]);
  for (const [fn, ms] of [...cpuByFunction].sort((a, b) => b[1] - a[1]).slice(0, 10)) row([fn, (ms / 500).toFixed(2), `${((ms / cpuTotalMs) * 100).toFixed(1)} %`]);
}

for (const [event, sql] of sqlByEvent) {
  console.log(`\n${event}: ${sql.length} statements`);
  for (const line of sql) console.log(`  ${line}`);
}

agent.destroy();
await app.stop();
await conn.close();
await db.close();
rmSync(dir, { recursive: true, force: true });
