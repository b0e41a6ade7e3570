// The Tracedeck server as the README starts it: `npm start` in the repository, in its own process
// group (npm, the shell it runs the script in, node), with PORT=0, a temporary DATA_DIR and
// LOG_LEVEL=info; ready once it logs "Tracedeck listening on http://…" (JSON lines on stderr), and
// stopped by signalling the whole group. Shared by the browser tests' global setup and bench/web.ts.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
export const distIndex = join(repoRoot, "web", "dist", "index.html");

export interface StartedServer {
  /** e.g. http://127.0.0.1:43125 */
  url: string;
  /** The process group's id (npm's PID). */
  pgid: number;
  dataDir: string;
  output(): string;
  /** SIGTERM to the group, SIGKILL after graceMs; removes the data folder it made. */
  stop(graceMs?: number): Promise<void>;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Builds the dashboard once when web/dist is missing (`npm start` is expected to do it itself; this
 * only spares a test run from failing on a fresh checkout). Throws with npm's output if it fails.
 */
export function ensureDashboardBuilt(log: (line: string) => void = () => {}): void {
  if (existsSync(distIndex)) return;
  log("web/dist is missing: running `npm run build` once");
  const result = spawnSync("npm", ["run", "build"], { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
  if (result.status !== 0 || !existsSync(distIndex)) {
    throw new Error(`\`npm run build\` failed (exit ${result.status ?? result.signal}); web/dist/index.html is missing:\n${(result.stdout ?? "") + (result.stderr ?? "")}`.slice(0, 8000));
  }
}

/** `npm start` detached, resolving once it logged its URL. */
export async function startServer(options: { env?: Record<string, string>; dataDir?: string; timeoutMs?: number } = {}): Promise<StartedServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "tracedeck-browser-"));
  const timeoutMs = options.timeoutMs ?? 180_000;
  const child: ChildProcess = spawn("npm", ["start"], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DATABASE_URL: "", REDIS_URL: "", PORT: "0", LOG_LEVEL: "info", DATA_DIR: dataDir, ...options.env },
  });
  const pgid = child.pid!;
  let output = "";
  let exitedYet = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      exitedYet = true;
      resolve({ code, signal });
    }),
  );
  // Last resort: never outlive the process that started it.
  const onExit = () => {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // gone
    }
  };
  process.once("exit", onExit);

  const stop = async (graceMs = 15_000) => {
    process.removeListener("exit", onExit);
    if (!exitedYet) {
      try {
        process.kill(-pgid, "SIGTERM");
      } catch {
        // gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pgid, "SIGKILL");
        } catch {
          // gone
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    }
    // npm and its shell may outlive node by a moment: wait for the whole group.
    const deadline = Date.now() + graceMs;
    while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (groupAlive(pgid)) {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // gone
      }
    }
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
  };

  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: string) => {
      output += chunk;
      const match = /"msg":"Tracedeck listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.setEncoding("utf8").on("data", onData);
    child.stderr!.setEncoding("utf8").on("data", onData);
    void exited.then(({ code, signal }) => reject(new Error(`\`npm start\` exited (${code ?? signal}) before listening:\n${output.slice(-6000)}`)));
    setTimeout(() => reject(new Error(`\`npm start\` did not log its URL within ${timeoutMs} ms:\n${output.slice(-6000)}`)), timeoutMs).unref();
  }).catch(async (error: unknown) => {
    await stop(2_000);
    throw error;
  });
  return { url: url.replace(/\/$/, ""), pgid, dataDir, output: () => output, stop };
}
