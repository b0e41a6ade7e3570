/**
 * The demo's own Tracedeck: a server process on the embedded database (PGlite) in a fresh data
 * folder, with the scripted model, no API keys and the sample workspace copied into its workspaces
 * root. Started in its own process group so that stopping it takes everything it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const DEMO_WORKSPACE = path.join(REPO_ROOT, "demo", "workspace");
export const DEMO_SCRIPTS_DIR = path.join(REPO_ROOT, "demo", "scripts");
/** The scripted session the demo plays (demo/scripts/demo.json) and the prompt it answers. */
export const DEMO_SCRIPT = "demo";
export const DEMO_PROMPT = "Add a stats module with mean and median.";
/** The workspace's folder name inside the data folder's workspaces root. */
export const DEMO_WORKSPACE_NAME = "demo";
/** The line `--keep-data` prints, which names the data folder (tests read it). */
export const DATA_KEPT_PREFIX = "Data kept in: ";
export const DEFAULT_DEMO_PORT = 4100;

/** A fresh data folder for one demo run, under the system's temporary folder. */
export function makeDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), "tracedeck-demo-"));
}

/** Copies the sample project into <dataDir>/workspaces/demo; returns the workspaces root and the copy. */
export function prepareWorkspace(dataDir: string): { root: string; workspace: string } {
  const root = path.join(dataDir, "workspaces");
  const workspace = path.join(root, DEMO_WORKSPACE_NAME);
  mkdirSync(root, { recursive: true });
  cpSync(DEMO_WORKSPACE, workspace, { recursive: true });
  return { root, workspace };
}

/** Whether 127.0.0.1:port can be listened on now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ port, host: "127.0.0.1", exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * The server's environment: the caller's, without API keys, provider URLs, an outside database or
 * Redis, or any agent setting of its own; then the demo's settings.
 */
export function demoServerEnv(base: NodeJS.ProcessEnv, settings: { dataDir: string; port: number; workspacesRoot: string; sandbox: "auto" | "off" }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (/^(OPENAI_|ANTHROPIC_|AGENT_|TRACEDECK_TEST_)/.test(key)) continue;
    if (["DATABASE_URL", "REDIS_URL", "PUBLIC_URL", "ALLOWED_HOSTS", "HOST", "PORT", "DATA_DIR", "LOG_LEVEL"].includes(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    HOST: "127.0.0.1",
    PORT: String(settings.port),
    DATA_DIR: settings.dataDir,
    LOG_LEVEL: "info",
    AGENT_ENABLED: "true",
    AGENT_PROVIDER: "scripted",
    AGENT_MODEL: DEMO_SCRIPT,
    AGENT_SCRIPTS_DIR: DEMO_SCRIPTS_DIR,
    AGENT_WORKSPACES_ROOT: settings.workspacesRoot,
    AGENT_SANDBOX: settings.sandbox,
  };
}

export interface DemoServer {
  pid: number;
  url: string;
  logFile: string;
  /** The last lines the server logged (for a failure report). */
  tail(lines?: number): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** SIGTERM to its process group, SIGKILL after graceMs; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL to its process group, at once. */
  kill(): void;
}

/**
 * Starts `node --import tsx server/index.ts` in its own process group, logging to
 * <dataDir>/server.log, and resolves once it listens and /healthz answers ok.
 */
export async function startDemoServer(env: NodeJS.ProcessEnv, dataDir: string, options: { timeoutMs?: number } = {}): Promise<DemoServer> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const logFile = path.join(dataDir, "server.log");
  const log = createWriteStream(logFile);
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], { cwd: REPO_ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let exitedYet = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      exitedYet = true;
      log.end();
      resolve({ code, signal });
    }),
  );
  const onData = (chunk: string) => {
    log.write(chunk);
    output = (output + chunk).slice(-200_000);
  };
  child.stdout!.setEncoding("utf8").on("data", onData);
  child.stderr!.setEncoding("utf8").on("data", onData);

  const signalGroup = (signal: NodeJS.Signals) => {
    if (exitedYet) return;
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const server: DemoServer = {
    pid: child.pid!,
    url: "",
    logFile,
    tail: (lines = 20) => output.trimEnd().split("\n").slice(-lines).join("\n"),
    exited,
    hasExited: () => exitedYet,
    async stop(graceMs = 20_000) {
      signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
    kill: () => signalGroup("SIGKILL"),
  };

  const deadline = Date.now() + timeoutMs;
  try {
    server.url = await new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = /"msg":"Tracedeck listening on (http:\/\/[^\s"]+)/.exec(output);
        if (match) {
          clearInterval(poll);
          resolve(match[1]!);
        } else if (exitedYet) {
          clearInterval(poll);
          reject(new Error(`the server exited before listening:\n${server.tail()}`));
        } else if (Date.now() > deadline) {
          clearInterval(poll);
          reject(new Error(`the server did not start within ${Math.round(timeoutMs / 1000)} s:\n${server.tail()}`));
        }
      };
      const poll = setInterval(check, 50);
    });
    for (;;) {
      const healthy = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5_000) })
        .then(async (r) => r.ok && ((await r.json()) as { status?: string }).status === "ok")
        .catch(() => false);
      if (healthy) break;
      if (exitedYet) throw new Error(`the server exited:\n${server.tail()}`);
      if (Date.now() > deadline) throw new Error(`${server.url}/healthz did not answer ok within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await server.stop(5_000);
    throw error;
  }
  return server;
}

/** Files of the workspace that are new or differ from the sample project: `src/stats.mjs (new)`. */
export function changedFiles(workspace: string, original = DEMO_WORKSPACE): string[] {
  const changed: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(path.join(workspace, dir)).sort()) {
      const rel = path.join(dir, name);
      if (name === "node_modules" || name === ".git") continue;
      const stat = statSync(path.join(workspace, rel));
      if (stat.isDirectory()) walk(rel);
      else {
        let before: Buffer | null = null;
        try {
          before = readFileSync(path.join(original, rel));
        } catch {
          before = null;
        }
        if (before === null) changed.push(`${rel} (new)`);
        else if (!before.equals(readFileSync(path.join(workspace, rel)))) changed.push(`${rel} (changed)`);
      }
    }
  };
  walk("");
  return changed;
}
