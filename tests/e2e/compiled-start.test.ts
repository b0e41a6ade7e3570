// The compiled server (`npm run build:server`, then `node dist/server/index.js`, which `npm start`
// runs) on the embedded database: it finds its migrations and answers /healthz and /graphql on a new
// data folder and after a restart, and its resident memory stays far from where an in-process initdb
// (~960 MB) or initdb's default shared_buffers (~430 MB) left it.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, test } from "vitest";
import { readMigrations } from "../../server/db/migrate.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const ARRIVAL_MS = 120_000;
/** Loose bounds, not the targets (350 MB after a restart, measured ~300–330): they catch the regressions named above. */
const FIRST_START_RSS_MB = 600;
const RESTART_RSS_MB = 400;

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function startCompiled(dataDir: string) {
  const child = spawn(process.execPath, ["dist/server/index.js"], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DATABASE_URL: "", REDIS_URL: "", PORT: "0", LOG_LEVEL: "info", DATA_DIR: dataDir },
  });
  children.push(child);
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: string) => {
      output += chunk;
      const match = /"msg":"Tracedeck listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.setEncoding("utf8").on("data", onData);
    child.stderr!.setEncoding("utf8").on("data", onData);
    void exited.then((code) => reject(new Error(`the compiled server exited (${code}) before listening:\n${output}`)));
    setTimeout(() => reject(new Error(`the compiled server did not listen in time:\n${output}`)), ARRIVAL_MS).unref();
  });
  return {
    url,
    pid: child.pid!,
    output: () => output,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
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
    expect(await first.stop()).toBe(0);

    const second = await startCompiled(dataDir);
    await checkServes(second.url);
    const restartRss = rssMb(second.pid);
    expect(restartRss, `after a restart: ${restartRss.toFixed(0)} MB resident (target 350 MB; see server/db/pglite-open.ts)`).toBeLessThan(RESTART_RSS_MB);
    expect(await second.stop()).toBe(0);
  },
  400_000,
);
