// The compiled server (`npm run build:server`, then `node dist/server/index.js`, which `npm start`
// runs) on the embedded database: it finds its migrations and answers /healthz and /graphql on a new
// data folder and after a restart, and its resident memory stays far from where an in-process initdb
// (~960 MB) or initdb's default shared_buffers (~430 MB) left it.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, test } from "vitest";
import { readMigrations } from "../../server/db/migrate.js";
import { type ServerProcess, startServerProcess, stopAllServerProcesses } from "../helpers/server-process.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const ARRIVAL_MS = 120_000;
/** Loose bounds, not the targets (350 MB after a restart, measured ~300–330): they catch the regressions named above. */
const FIRST_START_RSS_MB = 600;
const RESTART_RSS_MB = 400;

const dirs: string[] = [];
afterEach(async () => {
  await stopAllServerProcesses();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

const startCompiled = (dataDir: string) => startServerProcess({ DATA_DIR: dataDir }, { compiled: true, timeoutMs: ARRIVAL_MS });

/** Stops the server and gives its exit code (0: a clean stop). */
async function stopped(server: ServerProcess): Promise<number | null> {
  await server.stop();
  return (await server.exited).code;
}

async function checkServes(url: string) {
  const migrations = readMigrations();
  const health = await fetch(`${url}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({
    status: "ok",
    database: { kind: "pglite", ok: true },
    migrations: { applied: migrations.length, pending: 0, latest: migrations.at(-1)!.name },
  });
  const graphql = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ __typename }" }),
  });
  expect(await graphql.json()).toEqual({ data: { __typename: "Query" } });
}

test(
  "node dist/server/index.js serves a new data folder and the same folder after a restart, within the memory bounds",
  async () => {
    const build = spawnSync(process.execPath, ["scripts/build-server.mjs", "--if-stale"], { cwd: repoRoot, encoding: "utf8" });
    expect(build.status, `${build.stdout}${build.stderr}`).toBe(0);
    expect(existsSync(join(repoRoot, "dist", "server", "index.js"))).toBe(true);

    const dataDir = mkdtempSync(join(tmpdir(), "tracedeck-compiled-"));
    dirs.push(dataDir);

    const first = await startCompiled(dataDir);
    await checkServes(first.url);
    const firstRss = rssMb(first.pid);
    expect(firstRss, `first start: ${firstRss.toFixed(0)} MB resident (was initdb run in the server's own process?)`).toBeLessThan(FIRST_START_RSS_MB);
    expect(readdirSync(dataDir).filter((name) => name.includes(".initdb-"))).toEqual([]);
    expect(await stopped(first)).toBe(0);

    const second = await startCompiled(dataDir);
    await checkServes(second.url);
    const restartRss = rssMb(second.pid);
    expect(restartRss, `after a restart: ${restartRss.toFixed(0)} MB resident (target 350 MB; see server/db/pglite-open.ts)`).toBeLessThan(RESTART_RSS_MB);
    expect(await stopped(second)).toBe(0);
  },
  400_000,
);
