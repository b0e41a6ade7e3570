// npm run bench: issue 10's figures, each next to its baseline from the same run.
//   npm run bench                                                           # embedded PGlite, temporary folders
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench   # a throwaway database on that server
// Sizes: BENCH_TRACES (1,000,000), BENCH_SECONDS (10 per target and scenario), BENCH_WARMUP_SECONDS (2),
// BENCH_ROUNDS (4: alternated slices of BENCH_SECONDS), BENCH_SUBSCRIBERS (100,1000), BENCH_LIVE_MUTATIONS (200), BENCH_INGEST_SECONDS (300: the HTTP ingest's
// time limit; the rest of BENCH_TRACES is seeded by SQL), BENCH_PAGE_RUNS (15).
// Figures only: the exit code is 0 whether targets are met or not (1 when the run itself failed).
import { execSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { measureBatch, ingestOverHttp } from "./ingest.js";
import { measureLive, type LiveResult } from "./live.js";
import { emptySamples, startFinishLoad, summarize, type LoadResult } from "./load.js";
import { idleRss } from "./memory.js";
import { measurePagination, type PaginationResult } from "./pagination.js";
import { retentionRows, retentionSection } from "./retention.js";
import { killAll, ROOT, serverCommand } from "./proc.js";
import { fmt, printTable, ratio, type Row, writeResults } from "./report.js";
import { insertChat, keysetPageMs, offsetPageMs, openPg, openPgliteDataDir, type RawDb, rowsAround, seedTraces } from "./seed.js";
import { BENCH_CURSOR_SECRET, createThrowaway, type Running, startNaive, startTracedeck, type Throwaway } from "./servers.js";
import { median, round } from "./stats.js";
import { createChat, type CreatedChat } from "./gql.js";

const num = (name: string, fallback: number) => {
  const value = process.env[name];
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value.replace(/_/g, ""));
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${value}: expected a number`);
  return n;
};
const TRACES = num("BENCH_TRACES", 1_000_000);
const SECONDS = num("BENCH_SECONDS", 10);
const WARMUP = num("BENCH_WARMUP_SECONDS", 2);
const SUBSCRIBERS = (process.env.BENCH_SUBSCRIBERS ?? "100,1000").split(",").map(Number).filter((n) => n > 0);
const LIVE_MUTATIONS = num("BENCH_LIVE_MUTATIONS", 200);
const INGEST_SECONDS = num("BENCH_INGEST_SECONDS", 300);
const PAGE_RUNS = num("BENCH_PAGE_RUNS", 15);
const RETENTION_TRACES = num("BENCH_RETENTION_TRACES", 300_000);
/** BENCH_ONLY=retention: that section alone. */
const ONLY = process.env.BENCH_ONLY?.trim() || undefined;
const ROUNDS = Math.max(2, Math.round(num("BENCH_ROUNDS", 4) / 2) * 2);
const CONNECTIONS = 32;
const DEPTH = Math.floor(TRACES / 2);

const t0 = performance.now();
const log = (line: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const git = (() => {
  try {
    return execSync("git log -1 --oneline", { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
})();

/** Runs one measurement; a failure is logged and recorded, and the run goes on with the next one. */
const failures: Record<string, string> = {};
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    failures[name] = (error as Error).message.slice(0, 500);
    log(`    ${name} FAILED: ${failures[name]}`);
    return undefined;
  }
}
const failed = (name: string) => (failures[name] ? `failed: ${failures[name]!.slice(0, 60)}` : "—");

let throwaway: Throwaway | undefined;
const cleanup = async () => {
  killAll();
  await throwaway?.drop().catch((error: unknown) => console.error(`could not drop the throwaway database: ${String(error)}`));
  throwaway = undefined;
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the children and removing the throwaway database`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.on("exit", killAll);

async function main() {
  if (ONLY === "retention") return retentionOnly();
  if (ONLY) throw new Error(`BENCH_ONLY=${ONLY}: the only section that runs alone is retention`);
  throwaway = await createThrowaway(process.env.DATABASE_URL?.trim() || undefined);
  const kind = throwaway.kind;
  const meta = {
    date: new Date().toISOString(),
    git,
    database: kind === "postgresql" ? "PostgreSQL (throwaway database)" : "embedded PGlite (temporary folder)",
    server: serverCommand().how,
    node: process.version,
    cpus: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    sizes: { traces: TRACES, seconds: SECONDS, rounds: ROUNDS, warmup: WARMUP, subscribers: SUBSCRIBERS, liveMutations: LIVE_MUTATIONS, ingestSeconds: INGEST_SECONDS, pageRuns: PAGE_RUNS, connections: CONNECTIONS },
  };
  log(`Tracedeck benchmark: ${meta.database}; ${meta.server}; ${git}; node ${meta.node}, ${meta.cpus} CPUs`);

  // 1. Servers. The first start creates the database (initdb on PGlite): not a start-time figure.
  let td: Running = await startTracedeck(throwaway);
  const newDatabaseStartMs = td.startMs;
  log(`Tracedeck up on ${td.url} (pid ${td.child.pid}) in ${Math.round(td.startMs)} ms (new database)`);
  const idleFresh = await idleRss(td.child.pid);
  log(`  idle RSS after a start on a new database: ${idleFresh.rssMb} MB (peak ${idleFresh.peakMb} MB)`);
  const naive = await startNaive(throwaway);
  log(`naive baseline up on ${naive.url} (pid ${naive.child.pid})`);

  // 2. Single mutations: start then finish from 32 connections, Tracedeck and naive alternated.
  const graphql = (server: Running) => `${server.url}/graphql`;
  const chats: CreatedChat[] = [];
  for (let i = 0; i < CONNECTIONS; i++) chats.push(await createChat(graphql(td), `bench load ${i}`));
  const shared = await createChat(graphql(td), "bench load shared");
  const scenarios: { key: "chats32" | "chat1"; name: string; chatIds: string[] }[] = [
    { key: "chats32", name: `${CONNECTIONS} clients on ${CONNECTIONS} chats`, chatIds: chats.map((c) => c.uuid) },
    { key: "chat1", name: `${CONNECTIONS} clients on one chat`, chatIds: [shared.uuid] },
  ];
  const load: Record<string, { tracedeck: LoadResult; naive: LoadResult }> = {};
  const slice = Math.max(1, SECONDS / ROUNDS);
  for (const scenario of scenarios) {
    log(`single mutations, ${scenario.name}: warm-up ${WARMUP} s each, then ${ROUNDS} rounds of ${slice} s each, alternated (TNNT…)`);
    const run = (server: Running, seconds: number, into = emptySamples()) =>
      startFinishLoad({ url: graphql(server), chatIds: scenario.chatIds, connections: CONNECTIONS, seconds }, into);
    if (WARMUP > 0) {
      await run(td, WARMUP);
      await run(naive, WARMUP);
    }
    const samples = { tracedeck: emptySamples(), naive: emptySamples() };
    for (let round = 0; round < ROUNDS; round++) {
      for (const who of round % 2 === 0 ? (["tracedeck", "naive"] as const) : (["naive", "tracedeck"] as const)) {
        const before = { traces: samples[who].traces, seconds: samples[who].seconds };
        await run(who === "tracedeck" ? td : naive, slice, samples[who]);
        const partial = summarize(samples[who]);
        const thisRound = (samples[who].traces - before.traces) / (samples[who].seconds - before.seconds);
        log(`    ${who.padEnd(9)} ${thisRound.toFixed(0)} traces/s this round, ${partial.tracesPerSec} so far (p50 ${partial.requestP50Ms} ms a request)${partial.failures ? `, ${partial.failures} failures: ${partial.firstFailure}` : ""}`);
      }
    }
    load[scenario.key] = { tracedeck: summarize(samples.tracedeck), naive: summarize(samples.naive) };
  }

  // 3. Batch ingest against the raw multi-row INSERT on the same engine.
  log(`batch ingest: recordToolTraces (500 a request) vs raw multi-row INSERT, alternated, about ${SECONDS} s of HTTP`);
  const raw: RawDb = kind === "postgresql" ? await openPg(throwaway.databaseUrl!) : await openPgliteDataDir(throwaway.rawDir, { migrate: true });
  const rawChat = await insertChat(raw, "bench raw baseline");
  const batchChat = await createChat(graphql(td), "bench batch");
  const batch = await phase("batch", () => measureBatch({ graphqlUrl: graphql(td), chatId: batchChat.uuid, raw, rawChat, seconds: SECONDS, log }));
  await raw.close();
  if (batch) log(`    recordToolTraces ${batch.httpRowsPerSec}/s, raw INSERT ${batch.rawRowsPerSec}/s`);
  await naive.child.stop();

  // 4. Live delivery to N graphql-ws subscribers in a separate process.
  const live: LiveResult[] = [];
  for (const n of SUBSCRIBERS) {
    log(`live delivery: ${n} subscribers, ${LIVE_MUTATIONS} startToolTrace one at a time`);
    const result = await phase(`live${n}`, () => measureLive({ httpUrl: td.url, subscribers: n, mutations: LIVE_MUTATIONS, spacingMs: 20, log }));
    if (!result) continue;
    live.push(result);
    log(`    frame after the answer p50 ${result.frameP50Ms} ms, p99 ${result.frameP99Ms} ms; round trip p50 ${result.roundTripP50Ms} ms; ${result.missingFrames} frames missing`);
  }

  // 5. Ingest over HTTP into the big chat (memory after ingest), up to the time limit.
  const big = await createChat(graphql(td), "bench big chat");
  log(`ingest over HTTP into the big chat: up to ${TRACES.toLocaleString("en")} traces or ${INGEST_SECONDS} s, 2 clients`);
  const ingest = (await phase("ingest", () =>
    ingestOverHttp({ graphqlUrl: graphql(td), chatId: big.uuid, total: TRACES, maxSeconds: INGEST_SECONDS, concurrency: 2, log }),
  )) ?? { rows: 0, seconds: 0, rowsPerSec: 0, stoppedByTime: false };
  log(`    ${ingest.rows.toLocaleString("en")} traces in ${ingest.seconds} s (${ingest.rowsPerSec}/s)`);
  const afterIngest = await idleRss(td.child.pid);
  log(`    RSS after that ingest: ${afterIngest.rssMb} MB (peak ${afterIngest.peakMb} MB)`);
  // V8 gives back the heap it grew to only once allocation has been low for a while (its memory
  // reducer): the resident size once idle is read again half a minute later.
  const afterIngestIdle = await idleRss(td.child.pid, 27_000);
  log(`    RSS 30 s after that ingest: ${afterIngestIdle.rssMb} MB`);
  await td.child.stop();

  // 6. The rest of the big chat by SQL (with the server stopped: PGlite's folder has one owner), and
  // the SQL baselines of pagination on the same data.
  const sql = kind === "postgresql" ? await openPg(throwaway.databaseUrl!) : await openPgliteDataDir(throwaway.dataDir);
  const seeded = TRACES - ingest.rows;
  const seedStart = performance.now();
  if (seeded > 0) {
    log(`seeding the remaining ${seeded.toLocaleString("en")} traces of the big chat by SQL`);
    let lastLog = performance.now();
    await seedTraces(sql, { id: big.uuid, sessionId: big.currentSessionId }, ingest.rows, seeded, (done) => {
      if (performance.now() - lastLog > 10_000 || done === seeded) {
        lastLog = performance.now();
        log(`    ${done.toLocaleString("en")} / ${seeded.toLocaleString("en")}`);
      }
    });
  }
  const seedSeconds = (performance.now() - seedStart) / 1000;
  await sql.query("ANALYZE tool_traces"); // what autovacuum would do after a bulk load on PostgreSQL; PGlite has none
  const [{ n: rowsInChat } = { n: 0 }] = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM tool_traces WHERE chat_id = $1", [big.uuid]);
  const around = await rowsAround(sql, big.uuid, DEPTH);
  const offsetRuns: number[] = [];
  const keysetRuns: number[] = [];
  for (let i = 0; i < Math.max(3, Math.ceil(PAGE_RUNS / 3)); i++) {
    offsetRuns.push(await offsetPageMs(sql, big.uuid, DEPTH));
    keysetRuns.push(await keysetPageMs(sql, big.uuid, around.before));
  }
  await sql.close();
  const sqlPaging = { offsetPageMs: round(median(offsetRuns), 2), keysetPageMs: round(median(keysetRuns), 2), where: kind === "pglite" ? "in the bench process, server stopped" : "pg client" };
  log(`    chat has ${rowsInChat.toLocaleString("en")} traces; SQL at depth ${DEPTH.toLocaleString("en")}: OFFSET ${sqlPaging.offsetPageMs} ms, keyset ${sqlPaging.keysetPageMs} ms`);

  // 7. Start time and idle memory on the existing database, three times; the last one stays up.
  const starts: number[] = [];
  const idleRestart: { rssMb: number; peakMb: number }[] = [];
  for (let i = 0; i < 3; i++) {
    td = await startTracedeck(throwaway);
    starts.push(td.startMs);
    idleRestart.push(await idleRss(td.child.pid));
    log(`restart ${i + 1} on the existing database: healthy in ${Math.round(td.startMs)} ms, idle RSS ${idleRestart[i]!.rssMb} MB`);
    if (i < 2) await td.child.stop();
  }

  // 8. Pagination through GraphQL.
  log(`pagination: first page vs keyset page at depth ${DEPTH.toLocaleString("en")}, median of ${PAGE_RUNS}`);
  const paging: PaginationResult | undefined = await phase("pagination", () =>
    measurePagination({ httpUrl: td.url, chatId: big.uuid, secret: BENCH_CURSOR_SECRET, depth: DEPTH, before: around.before, atDepth: around.atDepth, runs: PAGE_RUNS, log }),
  );
  if (paging) log(`    first ${paging.firstPageMs} ms, deep ${paging.deepPageMs} ms, totalCount ${paging.totalCount} in ${paging.totalCountMs} ms`);
  const afterPaging = await idleRss(td.child.pid, 1000);
  await td.child.stop();

  // 8b. Ingest with and without the retention pruner, on a throwaway database of its own.
  log(`retention: start+finish with and without the pruner, ${SECONDS} s each, ${RETENTION_TRACES.toLocaleString("en")} old traces`);
  const retention = await phase("retention", () => retentionSection({ serverUrl: process.env.DATABASE_URL?.trim() || undefined, oldTraces: RETENTION_TRACES, seconds: SECONDS, log }));

  // 9. The table and the file.
  const embedded = kind === "pglite";
  const rows: Row[] = [];
  for (const scenario of scenarios) {
    const { tracedeck: t, naive: n } = load[scenario.key]!;
    const r = ratio(t.tracesPerSec, n.tracesPerSec);
    const need = scenario.key === "chats32" ? 2 : 1;
    rows.push({ figure: `start+finish, ${scenario.name} (traces/s)`, target: `≥ ${need}× naive`, tracedeck: fmt(t.tracesPerSec), baseline: fmt(n.tracesPerSec), ratio: r === null ? "—" : `${r.toFixed(2)}×`, met: r !== null && r >= need && t.failures === 0 });
    rows.push({ figure: `  latency a request p50 / p99 (ms)`, target: "", tracedeck: `${fmt(t.requestP50Ms)} / ${fmt(t.requestP99Ms)}`, baseline: `${fmt(n.requestP50Ms)} / ${fmt(n.requestP99Ms)}`, ratio: "", met: null });
    rows.push({ figure: `  latency a trace (start+finish) p50 / p99 (ms)`, target: "", tracedeck: `${fmt(t.traceP50Ms)} / ${fmt(t.traceP99Ms)}`, baseline: `${fmt(n.traceP50Ms)} / ${fmt(n.traceP99Ms)}`, ratio: "", met: null });
  }
  const br = ratio(batch?.httpRowsPerSec, batch?.rawRowsPerSec);
  rows.push({ figure: "batch ingest, 500 a request (traces/s)", target: "≥ 50% of raw INSERT", tracedeck: batch ? fmt(batch.httpRowsPerSec, "", 0) : failed("batch"), baseline: fmt(batch?.rawRowsPerSec, "", 0), ratio: br === null ? "—" : `${(br * 100).toFixed(0)}%`, met: br !== null && br >= 0.5 });
  for (const n of SUBSCRIBERS.filter((n) => !live.some((l) => l.subscribers === n))) {
    rows.push({ figure: `live frame after the answer, ${n} subscribers, p50 / p99 (ms)`, target: `p99 < ${n <= 100 ? 10 : 100} ms`, tracedeck: failed(`live${n}`), baseline: "", ratio: "", met: false });
  }
  for (const l of live) {
    const limit = l.subscribers <= 100 ? 10 : 100;
    rows.push({
      figure: `live frame after the answer, ${l.subscribers} subscribers, p50 / p99 (ms)`,
      target: `p99 < ${limit} ms`,
      tracedeck: `${fmt(l.frameP50Ms)} / ${fmt(l.frameP99Ms)}`,
      baseline: `round trip ${fmt(l.roundTripP50Ms)} / ${fmt(l.roundTripP99Ms)}`,
      ratio: "",
      met: l.frameP99Ms !== null && l.frameP99Ms < limit && l.missingFrames === 0 && l.connected === l.subscribers,
    });
  }
  const pr = ratio(paging?.deepPageMs, paging?.firstPageMs);
  rows.push({ figure: `page of 50 at depth ${DEPTH.toLocaleString("en")} vs first page (ms)`, target: "≤ 2× first page", tracedeck: paging ? `${fmt(paging.deepPageMs, "", 2)} (first ${fmt(paging.firstPageMs, "", 2)})` : failed("pagination"), baseline: `SQL OFFSET ${fmt(sqlPaging.offsetPageMs, "", 2)}`, ratio: pr === null ? "—" : `${pr.toFixed(2)}×`, met: pr !== null && pr <= 2 && paging!.deepPageChecked });
  rows.push({ figure: `totalCount of the ${rowsInChat.toLocaleString("en")}-trace chat (ms)`, target: "reported", tracedeck: paging ? `${fmt(paging.totalCountMs)} (= ${fmt(paging.totalCount, "", 0)})` : failed("pagination"), baseline: `stats.traceCount ${fmt(paging?.statsTraceCountMs)}`, ratio: "", met: null });
  const idleTarget = embedded ? 350 : 150;
  const idleFigure = embedded ? Math.max(...idleRestart.map((m) => m.rssMb)) : Math.max(idleFresh.rssMb, ...idleRestart.map((m) => m.rssMb));
  rows.push({ figure: `RSS idle (MB): new database / restarts`, target: `< ${idleTarget} MB`, tracedeck: `${idleFresh.rssMb} / ${idleRestart.map((m) => m.rssMb).join(", ")}`, baseline: "", ratio: "", met: idleFigure < idleTarget });
  rows.push({
    figure: `RSS after ${ingest.rows.toLocaleString("en")} traces over HTTP, 3 s / 30 s idle (MB, peak)`,
    target: embedded ? "reported" : ingest.rows >= 1_000_000 ? "< 300 MB (30 s)" : "< 300 MB (at 1,000,000)",
    tracedeck: `${afterIngest.rssMb} / ${afterIngestIdle.rssMb} (${afterIngest.peakMb})`,
    baseline: "",
    ratio: "",
    met: embedded ? null : ingest.rows >= 1_000_000 ? afterIngestIdle.rssMb < 300 : null,
  });
  rows.push({ figure: `  HTTP ingest rate, 2 clients (traces/s)`, target: "", tracedeck: failures.ingest ? failed("ingest") : fmt(ingest.rowsPerSec, "", 0), baseline: "", ratio: "", met: null });
  rows.push({ figure: `RSS after paging the big chat (MB, peak)`, target: "reported", tracedeck: `${afterPaging.rssMb} (${afterPaging.peakMb})`, baseline: "", ratio: "", met: null });
  const startMedian = median(starts);
  if (retention) rows.push(...retentionRows(retention));
  rows.push({ figure: "start on the existing database to /healthz 200 (ms, median of 3)", target: "< 2,000 ms (aim)", tracedeck: `${fmt(startMedian, "", 0)} (${starts.map((s) => Math.round(s)).join(", ")})`, baseline: "", ratio: "", met: startMedian < 2000 });

  const results = {
    meta,
    load,
    batch,
    live,
    pagination: { ...paging, sql: sqlPaging, bigChat: { traces: rowsInChat, overHttp: ingest.rows, bySql: Math.max(0, seeded), seedSeconds: round(seedSeconds, 1) } },
    memory: { idleNewDatabase: idleFresh, idleRestarts: idleRestart, afterIngest: { ...afterIngest, traces: ingest.rows }, afterIngestIdle30s: afterIngestIdle, afterPaging },
    ingest,
    start: { restartsMs: starts.map((s) => round(s, 0)), medianMs: round(startMedian, 0), newDatabaseMs: round(newDatabaseStartMs, 0) },
    retention,
    table: rows,
    failures,
  };
  const file = writeResults(kind, results);
  console.log(`\nTracedeck benchmark, ${meta.database}, ${meta.date}, ${git}`);
  console.log(`${meta.cpus} CPUs, ${meta.memoryGb} GB, node ${meta.node}, server: ${meta.server}; ${(performance.now() - t0) / 1000 | 0} s\n`);
  printTable(rows, (line) => console.log(line));
  console.log(`\nEvery figure: ${file}`);
}

/** BENCH_ONLY=retention: the retention section alone, with its rows and its file. */
async function retentionOnly() {
  const serverUrl = process.env.DATABASE_URL?.trim() || undefined;
  const kind = serverUrl ? "postgresql" : "pglite";
  log(`Tracedeck benchmark, retention section only: ${kind}; ${serverCommand().how}; ${git}`);
  const result = await retentionSection({ serverUrl, oldTraces: RETENTION_TRACES, seconds: SECONDS, log });
  const rows = retentionRows(result);
  const file = writeResults(`${kind}-retention`, { meta: { date: new Date().toISOString(), git, node: process.version, cpus: cpus().length, seconds: SECONDS, oldTraces: RETENTION_TRACES }, retention: result, table: rows });
  console.log("");
  printTable(rows, (line) => console.log(line));
  console.log(`\nEvery figure: ${file}`);
}

try {
  await main();
} catch (error) {
  console.error(`\nbenchmark failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
