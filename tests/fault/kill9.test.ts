// (d) kill -9 under load. Clients write traces (startToolTrace/finishToolTrace pairs and
// recordToolTraces batches) and note every write the server acknowledged; the server's process
// group gets SIGKILL mid-load; a new server starts on the same database. It must start cleanly, and
// every acknowledged write must be stored (acknowledged ⊆ stored, by id). On the test's own
// PostgreSQL cluster, and on the embedded PGlite data folder (where the new server must take over
// the lock the killed one left).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { expect, onTestFailed, test } from "vitest";
import { createPgCluster } from "../helpers/pg-cluster.js";
import { type SpawnedServer, spawnServer } from "../helpers/server-process.js";
import {
  classify,
  closePg,
  stopEverythingAfterAll,
  CREATE_CHAT,
  describe as describeExchange,
  type Exchange,
  FINISH_TRACE,
  graphql,
  httpRequest,
  Ledger,
  logDigest,
  missingWrites,
  openPg,
  RECORD_TRACES,
  readStored,
  recordItems,
  rootResult,
  sleep,
  START_TRACE,
  type StoredState,
} from "./lib.js";

const CLIENTS = 6;
const CHATS = 3;
const BATCH_ITEMS = 20;
/** Kill once this much load ran and at least this many traces were acknowledged (bounded by KILL_DEADLINE_MS). */
const LOAD_MS = 2_000;
const MIN_ACKED = 40;
const KILL_DEADLINE_MS = 30_000;
const MAX_REQUESTS_PER_CLIENT = 1_000;

const dirs: string[] = [];

stopEverythingAfterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Scenario {
  label: string;
  env: Record<string, string>;
  /** Reads the acknowledged rows back from the database itself, once no server runs on it. */
  readBack(ledger: Ledger): Promise<StoredState>;
}

async function killUnderLoad({ label, env, readBack }: Scenario) {
  const first = spawnServer(env);
  let second: SpawnedServer | undefined;
  onTestFailed(() =>
    console.log(`[kill9 ${label}] first server: ${logDigest(first.lines())}\nsecond server: ${second ? `${logDigest(second.lines())}\n${second.output().slice(-3000)}` : "not started"}`),
  );
  const url = await first.listening;
  const graphqlUrl = `${url}/graphql`;
  const ledger = new Ledger();
  const exchanges: Exchange[] = [];

  const chats: string[] = [];
  for (let i = 0; i < CHATS; i++) {
    const created = await graphql(graphqlUrl, "createChat", CREATE_CHAT, { title: `kill -9 ${label} ${i}` });
    expect(classify(created), describeExchange(created)).toBe("ack");
    ledger.ackChat(created);
    chats.push((rootResult(created) as { id: string }).id);
  }

  let killed = false;
  const send = async (op: string, query: string, variables: Record<string, unknown>) => {
    const exchange = await graphql(graphqlUrl, op, query, variables, { timeoutMs: 30_000 });
    exchanges.push(exchange);
    // Acknowledged: a complete, successful response. Only the server's answer counts, whenever it came.
    ledger.ackChat(exchange);
    ledger.ackTraces(exchange);
    return exchange;
  };
  async function client(i: number) {
    const chatId = chats[i % CHATS]!;
    for (let n = 1; n <= MAX_REQUESTS_PER_CLIENT; n++) {
      let exchange: Exchange;
      if (n % 3 === 0) {
        exchange = await send("recordToolTraces", RECORD_TRACES, { items: recordItems(chatId, `k${i}-b${n}`, BATCH_ITEMS) });
      } else {
        const toolCallId = `k${i}-t${n}`;
        exchange = await send("startToolTrace", START_TRACE, { chatId, toolCallId, input: { n } });
        if (classify(exchange) === "ack") exchange = await send("finishToolTrace", FINISH_TRACE, { chatId, toolCallId, output: `out ${n}` });
      }
      if (classify(exchange) !== "ack") {
        // Before the kill every write must succeed; after it, the clients stop at their first failure.
        if (!killed) throw new Error(`a write failed before the kill: ${describeExchange(exchange)}`);
        return;
      }
      if (killed) return;
    }
  }
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
  const loadStarted = Date.now();
  while ((Date.now() - loadStarted < LOAD_MS || ledger.traces.size < MIN_ACKED) && Date.now() - loadStarted < KILL_DEADLINE_MS) await sleep(50);

  // kill -9, mid-load.
  const inFlightAtKill = exchanges.length;
  killed = true;
  await first.kill();
  const exit = await first.exited;
  expect(exit.signal).toBe("SIGKILL");
  const outcomes = await Promise.allSettled(clients);
  const clientFailures = outcomes.filter((o) => o.status === "rejected").map((o) => String((o as PromiseRejectedResult).reason));
  expect(clientFailures).toEqual([]);
  const cut = exchanges.slice(inFlightAtKill).filter((e) => classify(e) !== "ack");
  console.log(
    `[kill9 ${label}] killed after ${Date.now() - loadStarted} ms with ${ledger.traces.size} traces acknowledged (${exchanges.length} requests; ${cut.length} cut by the kill: ${[
      ...new Set(cut.map((e) => e.error?.code ?? `HTTP ${e.status}`)),
    ].join(", ")})`,
  );
  expect(ledger.traces.size, "traces acknowledged before the kill (harness)").toBeGreaterThanOrEqual(MIN_ACKED);

  // A new server on the same database starts cleanly and serves.
  second = spawnServer(env);
  const url2 = await second.listening;
  const health = await httpRequest(`${url2}/healthz`, { op: "GET /healthz" });
  expect.soft(health.status, describeExchange(health)).toBe(200);
  const created = await graphql(`${url2}/graphql`, "createChat (after restart)", CREATE_CHAT, { title: "after kill -9" });
  expect.soft(classify(created), describeExchange(created)).toBe("ack");
  ledger.ackChat(created);
  await second.stop();
  const stopped = await second.exited;
  expect.soft(stopped.code, "the restarted server stops cleanly").toBe(0);
  const errors = second.lines().filter((l) => l.level === "error");
  expect.soft(errors.map((l) => l.raw.slice(0, 500)), "error lines from the restarted server").toEqual([]);

  // Every acknowledged write is stored.
  const stored = await readBack(ledger);
  const missing = missingWrites(ledger, stored);
  expect(missing.slice(0, 20), `${missing.length} of ${ledger.chats.size} chats and ${ledger.traces.size} traces acknowledged are missing`).toEqual([]);
}

test("kill -9 under load on PostgreSQL: the restarted server starts cleanly, every acknowledged write is stored", async () => {
  const cluster = await createPgCluster();
  await cluster.start();
  await killUnderLoad({
    label: "postgresql",
    env: { DATABASE_URL: cluster.url() },
    async readBack(ledger) {
      const db = await openPg(cluster.url());
      try {
        return await readStored(ledger, async (sql, params) => (await db.query(sql, params)).rows);
      } finally {
        await closePg(db);
      }
    },
  });
  await cluster.destroy();
});

test("kill -9 under load on embedded PGlite: the restarted server takes over the stale lock, every acknowledged write is stored", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tracedeck-fault-pglite-"));
  dirs.push(dataDir);
  await killUnderLoad({
    label: "pglite",
    env: { DATA_DIR: dataDir },
    async readBack(ledger) {
      // The servers are gone: open the data folder directly, as the server does.
      const db = await PGlite.create(join(resolve(dataDir), "pglite"));
      try {
        return await readStored(ledger, async (sql, params) => (await db.query(sql, params)).rows as never);
      } finally {
        await db.close();
      }
    },
  });
});
