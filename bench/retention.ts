// Ingest throughput with and without the retention pruner, measured in the same run (issue 12):
// old traces and events are seeded by SQL into chats of their own, then start+finish load runs
// against servers with retention off and on, alternated (off, on, on, off); an "on" server's pruner
// (TRACE_RETENTION_DAYS=1, every half second) is busy deleting the old rows for its whole window,
// which the table shows with how many old traces were still left at the end.
//   BENCH_ONLY=retention npm run bench     # this section alone (BENCH_SECONDS, BENCH_RETENTION_TRACES)
import { type CreatedChat, createChat, gqlData } from "./gql.js";
import { emptySamples, type LoadResult, startFinishLoad, summarize } from "./load.js";
import { serverCommand, spawnChild, waitHealthy, freePort } from "./proc.js";
import type { Row } from "./report.js";
import { fmt, ratio } from "./report.js";
import { openPg, openPgliteDataDir, type RawDb, seedTraces } from "./seed.js";
import { BENCH_CURSOR_SECRET, createThrowaway, type Running, type Throwaway } from "./servers.js";

export interface RetentionBenchResult {
  oldTraces: number;
  oldEvents: number;
  seedSeconds: number;
  without: LoadResult;
  with: LoadResult;
  /** What the pruner removed while the load ran, and what was still due at the end. */
  pruned: { traces: number; events: number; runs: number };
  oldTracesLeft: number;
}

const OLD_CHATS = 10;
const LOAD_CHATS = 8;
const CONNECTIONS = 16;

/** Tracedeck as servers.ts starts it, with extra settings (retention's). */
async function startServer(db: Throwaway, extra: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: db.dataDir,
    LOG_LEVEL: "warn",
    CURSOR_SECRET: BENCH_CURSOR_SECRET,
    AGENT_ENABLED: "false",
    CLAUDE_CODE_TRANSCRIPTS: "false",
    DATABASE_URL: db.databaseUrl ?? "",
    // An inherited setting must not turn the "without" server's pruner on.
    TRACE_RETENTION_DAYS: "",
    ...extra,
  };
  const since = performance.now();
  const child = spawnChild(serverCommand().args, env, { label: "tracedeck-retention" });
  const url = `http://127.0.0.1:${port}`;
  try {
    return { child, url, startMs: await waitHealthy(url, child, since) };
  } catch (error) {
    await child.stop(2_000);
    throw error;
  }
}

const openRaw = (db: Throwaway): Promise<RawDb> => (db.kind === "postgresql" ? openPg(db.databaseUrl!) : openPgliteDataDir(db.dataDir));

/** Old events for a chat: its own (chat_created) and `n` trace_started rows, committed on 2025-01-01. */
async function seedEvents(raw: RawDb, chatId: string, n: number): Promise<void> {
  await raw.query(`UPDATE chat_events SET created_at = timestamptz '2025-01-01 00:00:00+00' WHERE chat_id = $1::uuid`, [chatId]);
  await raw.query(
    `INSERT INTO chat_events (chat_id, seq, kind, subject_id, created_at)
     SELECT c.id, c.event_seq + g, 'trace_started', gen_random_uuid(), timestamptz '2025-01-01 00:00:00+00' + g * interval '1 millisecond'
       FROM chats c, generate_series(1, $2::int) g WHERE c.id = $1::uuid`,
    [chatId, n],
  );
  await raw.query(`UPDATE chats SET event_seq = event_seq + $2 WHERE id = $1::uuid`, [chatId, n]);
}

async function oldTracesLeft(url: string, chatIds: string[]): Promise<number> {
  let left = 0;
  for (const id of chatIds) left += (await gqlData<{ chat: { stats: { traceCount: number } } }>(url, `query($id: ID!) { chat(id: $id) { stats { traceCount } } }`, { id })).chat.stats.traceCount;
  return left;
}

export async function measureRetention(options: { db: Throwaway; oldTraces: number; seconds: number; log: (line: string) => void }): Promise<RetentionBenchResult> {
  const { db, seconds, log } = options;
  const graphql = (s: Running) => `${s.url}/graphql`;

  // Chats, created through the API; then the old rows by SQL with the server stopped (PGlite has one owner).
  let server = await startServer(db, {});
  const oldChats: CreatedChat[] = [];
  for (let i = 0; i < OLD_CHATS; i++) oldChats.push(await createChat(graphql(server), `retention old ${i}`));
  const loadChats: CreatedChat[] = [];
  for (let i = 0; i < LOAD_CHATS; i++) loadChats.push(await createChat(graphql(server), `retention load ${i}`));
  await server.child.stop();
  const perChat = Math.ceil(options.oldTraces / OLD_CHATS);
  log(`retention: seeding ${(perChat * OLD_CHATS).toLocaleString("en")} old traces and as many old events in ${OLD_CHATS} chats`);
  const seedStart = performance.now();
  const raw = await openRaw(db);
  for (const chat of oldChats) {
    await seedTraces(raw, { id: chat.uuid, sessionId: chat.currentSessionId }, 0, perChat, () => {});
    await seedEvents(raw, chat.uuid, perChat);
  }
  await raw.query("ANALYZE");
  await raw.close();
  const seedSeconds = (performance.now() - seedStart) / 1000;
  const chatIds = loadChats.map((c) => c.uuid);

  // Off, on, on, off (half the time each way per pair): the machine's drift falls on both alike. Each
  // "on" server starts its first run at once, then another every half second (one at a time).
  const samples = { off: emptySamples(), on: emptySamples() };
  const half = Math.max(1, seconds / 2);
  for (const mode of ["off", "on", "on", "off"] as const) {
    server = await startServer(db, mode === "on" ? { TRACE_RETENTION_DAYS: "1", RETENTION_INTERVAL_SECONDS: "0.5" } : {});
    if (mode === "off" && samples.off.seconds === 0) await startFinishLoad({ url: graphql(server), chatIds, connections: CONNECTIONS, seconds: 1 }); // warm-up
    await startFinishLoad({ url: graphql(server), chatIds, connections: CONNECTIONS, seconds: half }, samples[mode]);
    const round = summarize(samples[mode]);
    log(`retention: pruner ${mode.padEnd(3)} ${round.tracesPerSec} traces/s so far (p99 ${round.requestP99Ms} ms a request)`);
    await server.child.stop();
  }

  // What the pruner removed in its two windows, and what was still due.
  server = await startServer(db, {});
  const report = await gqlData<{ retention: { totals: { traces: string | number; events: string | number; runs: number } } }>(
    graphql(server),
    `{ retention { totals { traces events runs } } }`,
  );
  const left = await oldTracesLeft(graphql(server), oldChats.map((c) => c.uuid));
  await server.child.stop();
  const without = summarize(samples.off);
  const withPruner = summarize(samples.on);

  const { totals } = report.retention;
  return {
    oldTraces: perChat * OLD_CHATS,
    oldEvents: perChat * OLD_CHATS,
    seedSeconds: Math.round(seedSeconds * 10) / 10,
    without,
    with: withPruner,
    pruned: { traces: Number(totals.traces), events: Number(totals.events), runs: totals.runs },
    oldTracesLeft: left,
  };
}

/** The section's rows of the closing table. */
export function retentionRows(r: RetentionBenchResult): Row[] {
  const share = ratio(r.with.tracesPerSec, r.without.tracesPerSec);
  return [
    {
      figure: `start+finish, ${CONNECTIONS} clients, pruner on vs off (traces/s)`,
      target: "reported",
      tracedeck: `${fmt(r.with.tracesPerSec)} (pruner on)`,
      baseline: `${fmt(r.without.tracesPerSec)} (off)`,
      ratio: share === null ? "—" : `${(share * 100).toFixed(0)}%`,
      met: null,
    },
    {
      figure: `  latency a request p50 / p99, on vs off (ms)`,
      target: "",
      tracedeck: `${fmt(r.with.requestP50Ms)} / ${fmt(r.with.requestP99Ms)}`,
      baseline: `${fmt(r.without.requestP50Ms)} / ${fmt(r.without.requestP99Ms)}`,
      ratio: "",
      met: null,
    },
    {
      figure: `  pruned meanwhile: traces / events (old traces left)`,
      target: "",
      tracedeck: `${fmt(r.pruned.traces, "", 0)} / ${fmt(r.pruned.events, "", 0)} (${fmt(r.oldTracesLeft, "", 0)} left)`,
      baseline: `of ${fmt(r.oldTraces, "", 0)} / ${fmt(r.oldEvents, "", 0)}`,
      ratio: "",
      met: r.with.failures === 0 && r.without.failures === 0 ? null : false,
    },
  ];
}

/** The section on a throwaway database of its own (dropped after), so the old rows are only its own. */
export async function retentionSection(options: { serverUrl: string | undefined; oldTraces: number; seconds: number; log: (line: string) => void }): Promise<RetentionBenchResult> {
  const db = await createThrowaway(options.serverUrl);
  try {
    return await measureRetention({ db, oldTraces: options.oldTraces, seconds: options.seconds, log: options.log });
  } finally {
    await db.drop();
  }
}
