// A real Tracedeck server process: `node --import tsx server/index.ts` (no npx wrapper, so the PID
// is the server's own), started with the given environment, ready once it logs "Tracedeck listening
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
export async function startServerProcess(env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<ServerProcess> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], {
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
