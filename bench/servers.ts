// The servers under test and their throwaway databases: Tracedeck (compiled build when present),
// the naive baseline, a fresh uniquely named PostgreSQL database or temporary PGlite folders.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Child, freePort, serverCommand, spawnChild, waitHealthy } from "./proc.js";
import { openPg } from "./seed.js";

export const BENCH_CURSOR_SECRET = "tracedeck-bench-cursor-secret";

export interface Running {
  child: Child;
  url: string;
  /** Spawn to the first 200 from /healthz. */
  startMs: number;
}

export interface Throwaway {
  kind: "postgresql" | "pglite";
  /** The throwaway database's URL (PostgreSQL only). */
  databaseUrl?: string;
  /** Tracedeck's DATA_DIR (on PostgreSQL too: the server keeps agent workspaces there). */
  dataDir: string;
  naiveDir: string;
  rawDir: string;
  drop(): Promise<void>;
}

/** A new database on the server DATABASE_URL names (dropped at the end), or temporary folders for PGlite. */
export async function createThrowaway(serverUrl: string | undefined): Promise<Throwaway> {
  const root = mkdtempSync(join(tmpdir(), "tracedeck-bench-"));
  const dirs = { dataDir: join(root, "tracedeck"), naiveDir: join(root, "naive"), rawDir: join(root, "raw") };
  const removeDirs = () => rmSync(root, { recursive: true, force: true });
  if (!serverUrl) return { kind: "pglite", ...dirs, drop: async () => removeDirs() };
  const name = `tracedeck_bench_${Date.now()}_${randomBytes(3).toString("hex")}`;
  const admin = await openPg(serverUrl);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.close();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    kind: "postgresql",
    databaseUrl: url.toString(),
    ...dirs,
    drop: async () => {
      removeDirs();
      const again = await openPg(serverUrl);
      try {
        await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await again.close();
      }
    },
  };
}

export async function startTracedeck(db: Throwaway): Promise<Running> {
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: db.dataDir,
    LOG_LEVEL: "warn",
    CURSOR_SECRET: BENCH_CURSOR_SECRET,
    AGENT_ENABLED: "false",
    CLAUDE_CODE_TRANSCRIPTS: "false",
    // The bench sends batches of 500 and pages of 50 only: the server's defaults stand.
  };
  if (db.databaseUrl) env.DATABASE_URL = db.databaseUrl;
  else env.DATABASE_URL = ""; // an inherited DATABASE_URL must not turn the embedded run into PostgreSQL
  const since = performance.now();
  const child = spawnChild(serverCommand().args, env, { label: "tracedeck" });
  const url = `http://127.0.0.1:${port}`;
  try {
    const startMs = await waitHealthy(url, child, since);
    return { child, url, startMs };
  } catch (error) {
    await child.stop(2_000);
    throw error;
  }
}

export async function startNaive(db: Throwaway): Promise<Running> {
  const port = await freePort();
  const env: Record<string, string> = { PORT: String(port), DATABASE_URL: db.databaseUrl ?? "", NAIVE_DATA_DIR: db.naiveDir };
  const since = performance.now();
  const child = spawnChild(["--import", "tsx", "bench/naive-server.ts"], env, { label: "naive" });
  const url = `http://127.0.0.1:${port}`;
  const startMs = await waitHealthy(url, child, since);
  return { child, url, startMs };
}
