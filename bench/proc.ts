// Child processes of the benchmark: spawned by pid (no npm or npx wrapper, so the pid is the
// process measured and killed), each remembered so that an exit or an error kills them all.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

export const ROOT = new URL("..", import.meta.url).pathname;
const children = new Set<ChildProcess>();

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnChild(args: string[], env: Record<string, string>, options: { ipc?: boolean; label: string }): Child {
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe", ...(options.ipc ? (["ipc"] as const) : [])],
  });
  if (proc.pid === undefined) throw new Error(`could not spawn ${options.label}`);
  children.add(proc);
  // Warnings and errors only (LOG_LEVEL=warn), prefixed, and only the first few: a server failing
  // every request under load would otherwise bury the progress lines.
  let relayed = 0;
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      relayed++;
      if (relayed <= 10) process.stderr.write(`  [${options.label}] ${line.slice(0, 300)}\n`);
      else if (relayed === 11) process.stderr.write(`  [${options.label}] (further output of this process not shown)\n`);
    }
  };
  proc.stdout?.on("data", relay);
  proc.stderr?.on("data", relay);
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.once("exit", () => children.delete(proc));
  return {
    proc,
    pid: proc.pid,
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Kills every child still running, by its own pid (used on exit and on error). */
export function killAll(): void {
  for (const proc of children) if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
}

/** A port free at this moment (another process could take it before the child binds; good enough here). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Polls GET /healthz until 200; returns the milliseconds from `since` to that first 200. */
export async function waitHealthy(baseUrl: string, child: Child, since: number, timeoutMs = 120_000): Promise<number> {
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`the process at ${baseUrl} exited (${child.proc.exitCode}) before it was healthy`);
    try {
      const res = await fetch(`${baseUrl}/healthz`);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - since;
    } catch {
      // not listening yet
    }
    if (performance.now() - since > timeoutMs) throw new Error(`${baseUrl}/healthz not 200 after ${timeoutMs} ms`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resident and peak resident memory of a process in MiB, from /proc (Linux). */
export function rssOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMb: Math.round(kb("VmRSS") / 1024), peakMb: Math.round(kb("VmHWM") / 1024) };
}

/**
 * How the server is started: the compiled build when there is one, else TypeScript through tsx.
 * BENCH_SERVER=tsx or dist forces one. A stale build would measure old code, so the project's
 * build script is run first with --if-stale when it exists (what `npm start` does).
 */
let chosen: { args: string[]; how: string } | undefined;
export function serverCommand(): { args: string[]; how: string } {
  if (chosen) return chosen;
  const forced = process.env.BENCH_SERVER;
  const builder = `${ROOT}scripts/build-server.mjs`;
  if (forced !== "tsx" && existsSync(builder)) {
    const built = spawnSync(process.execPath, [builder, "--if-stale"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    if (built.status !== 0) process.stderr.write(`scripts/build-server.mjs --if-stale exited ${built.status}\n`);
  }
  const compiled = `${ROOT}dist/server/index.js`;
  if (forced === "dist" || (forced !== "tsx" && existsSync(compiled))) chosen = { args: [compiled], how: "node dist/server/index.js" };
  else chosen = { args: ["--import", "tsx", "server/index.ts"], how: "node --import tsx server/index.ts" };
  return chosen;
}
