// A real Tracedeck server process: `node --import tsx server/index.ts`, or the compiled
// `node dist/server/index.js` (no npx wrapper, so the PID is the server's own), started with the given environment, ready once it logs "Tracedeck listening
// on <url>", and stopped by its PID: SIGTERM, then SIGKILL if it has not exited in time.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface ServerProcess {
  pid: number;
  /** The base URL the server logged, e.g. http://127.0.0.1:43125 */
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ServerProcess>();

/** Starts a server process and waits (generously: arrival, not speed) until it listens. */
export async function startServerProcess(env: Record<string, string>, options: { timeoutMs?: number; compiled?: boolean } = {}): Promise<ServerProcess> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const entry = options.compiled ? ["dist/server/index.js"] : ["--import", "tsx", "server/index.ts"];
  const child: ChildProcess = spawn(process.execPath, entry, {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DATABASE_URL: "", REDIS_URL: "", PORT: "0", LOG_LEVEL: "info", ...env },
  });
  let output = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let exitedYet = false;
  void exited.then(() => (exitedYet = true));

  const server: ServerProcess = {
    pid: child.pid!,
    url: "",
    graphqlUrl: "",
    wsUrl: "",
    output: () => output,
    exited,
    async stop(graceMs = 15_000) {
      if (!exitedYet) {
        try {
          process.kill(server.pid, "SIGTERM");
        } catch {
          // already gone
        }
        const timer = setTimeout(() => {
          try {
            process.kill(server.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }, graceMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(server);
    },
  };
  running.add(server);

  try {
    server.url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: string) => {
        output += chunk;
        const match = /"msg":"Tracedeck listening on (http:\/\/[^\s"]+)/.exec(output);
        if (match) resolve(match[1]!);
      };
      child.stdout!.setEncoding("utf8").on("data", onData);
      child.stderr!.setEncoding("utf8").on("data", onData);
      void exited.then(({ code, signal }) => reject(new Error(`the server exited (${code ?? signal}) before listening:\n${output}`)));
      setTimeout(() => reject(new Error(`the server did not log its URL within ${timeoutMs} ms:\n${output}`)), timeoutMs).unref();
    });
  } catch (error) {
    await server.stop(2_000);
    throw error;
  }
  server.graphqlUrl = `${server.url}/graphql`;
  server.wsUrl = `${server.url.replace(/^http/, "ws")}/graphql`;
  return server;
}

/** Stops every server process this test file started and has not stopped yet: for afterAll. */
export async function stopAllServerProcesses(): Promise<void> {
  await Promise.allSettled([...running].map((server) => server.stop()));
}

/** One JSON log line of a server process, with the moment (this process's clock) it arrived. */
export interface ServerLogLine {
  level?: string;
  msg?: string;
  time?: string;
  /** Date.now() in the test process when the line was read. */
  receivedAt: number;
  raw: string;
  [key: string]: unknown;
}

/**
 * A server process in its own process group (detached), for tests that signal or kill it and watch
 * what it logs. Unlike startServerProcess, it does not wait for the server to listen: `listening`
 * resolves to the logged URL, or rejects if the process exits first.
 */
export interface SpawnedServer {
  /** The node process's PID, which is also its process group's id. */
  pid: number;
  spawnedAt: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Its JSON log lines so far, in order. */
  lines(): ServerLogLine[];
  listening: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  hasExited(): boolean;
  /** Sends a signal to the whole process group (no-op once it has exited). */
  signal(signal: NodeJS.Signals): void;
  /** Resolves to the first log line (already read or still to come) matching the predicate; rejects once the process exits without one. */
  waitForLine(predicate: (line: ServerLogLine) => boolean, timeoutMs?: number): Promise<ServerLogLine>;
  /** SIGKILL to the process group; resolves once the process has exited. */
  kill(): Promise<void>;
  /** SIGTERM to the process group, SIGKILL after graceMs; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const spawned = new Set<SpawnedServer>();

/** Spawns `node --import tsx server/index.ts` detached, with PORT=0, LOG_LEVEL=info and the given env. */
export function spawnServer(env: Record<string, string>, options: { listenTimeoutMs?: number } = {}): SpawnedServer {
  const listenTimeoutMs = options.listenTimeoutMs ?? 120_000;
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DATABASE_URL: "", REDIS_URL: "", PORT: "0", LOG_LEVEL: "info", ...env },
  });
  const spawnedAt = Date.now();
  let output = "";
  const lines: ServerLogLine[] = [];
  const watchers = new Set<() => void>();
  let exitedYet = false;
  // Resolved on "close" (its output fully read), with the moment of "exit".
  let exitAt = 0;
  child.once("exit", () => (exitAt = Date.now()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once("close", (code, signal) => {
      exitedYet = true;
      resolve({ code, signal, at: exitAt || Date.now() });
    }),
  );

  const partial = { stdout: "", stderr: "" };
  const onData = (stream: "stdout" | "stderr") => (chunk: string) => {
    output += chunk;
    const parts = (partial[stream] + chunk).split("\n");
    partial[stream] = parts.pop()!;
    const receivedAt = Date.now();
    for (const raw of parts) {
      if (!raw.startsWith("{")) continue;
      try {
        lines.push({ ...(JSON.parse(raw) as Record<string, unknown>), raw, receivedAt });
      } catch {
        // not a log record
      }
    }
    for (const watcher of [...watchers]) watcher();
  };
  child.stdout!.setEncoding("utf8").on("data", onData("stdout"));
  child.stderr!.setEncoding("utf8").on("data", onData("stderr"));

  const server: SpawnedServer = {
    pid: child.pid!,
    spawnedAt,
    output: () => output,
    lines: () => lines,
    listening: undefined as unknown as Promise<string>,
    exited,
    hasExited: () => exitedYet,
    signal(signal) {
      if (exitedYet) return;
      try {
        process.kill(-server.pid, signal);
      } catch {
        // already gone
      }
    },
    waitForLine(predicate, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(predicate);
          if (found) {
            done();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching log line within ${timeoutMs} ms:\n${output.slice(-6000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        check();
        void exited.then(({ code, signal }) => {
          check();
          done();
          reject(new Error(`the server exited (${code ?? signal}) without a matching log line:\n${output.slice(-6000)}`));
        });
      });
    },
    async kill() {
      server.signal("SIGKILL");
      await exited;
      spawned.delete(server);
    },
    async stop(graceMs = 15_000) {
      server.signal("SIGTERM");
      const timer = setTimeout(() => server.signal("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      spawned.delete(server);
    },
  };
  server.listening = new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /"msg":"Tracedeck listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match) {
        watchers.delete(check);
        resolve(match[1]!);
      }
    };
    watchers.add(check);
    void exited.then(({ code, signal }) => reject(new Error(`the server exited (${code ?? signal}) before listening:\n${output.slice(-6000)}`)));
    setTimeout(() => reject(new Error(`the server did not log its URL within ${listenTimeoutMs} ms:\n${output.slice(-6000)}`)), listenTimeoutMs).unref();
  });
  server.listening.catch(() => {}); // awaited by the tests that expect it
  spawned.add(server);
  return server;
}

// Last resort: the test process is exiting with servers still up (a hook did not run). Detached,
// they would outlive it.
process.once("exit", () => {
  for (const server of spawned) server.signal("SIGKILL");
});

/** SIGKILLs every process group spawnServer started in this file that is still running: for afterAll. */
export async function killAllSpawnedServers(): Promise<void> {
  await Promise.allSettled([...spawned].map((server) => server.kill()));
}
