// A throwaway PostgreSQL 15 cluster of the test's own, which a fault test may stop, start and kill
// without touching the machine's server on 5432. initdb and pg_ctl come from the machine's
// PostgreSQL binaries; as root (CI, tests) they run as the `postgres` user, in a temporary folder
// that user owns. Trust authentication: a password in the URL is accepted and ignored.
//
// Every cluster a test file creates is registered; destroyAllPgClusters() (for afterAll) stops and
// removes them, and a process "exit" hook stops any that are still running, so no postmaster
// outlives the test file even when a test fails or the worker goes down.
import { execFile, execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const PG_BIN = process.env.TRACEDECK_PG_BIN ?? "/usr/lib/postgresql/15/bin";
/** Ports this helper never uses: the machine's PostgreSQL and Redis. */
const RESERVED_PORTS = new Set([5432, 6379]);

export interface PgCluster {
  /** The folder holding the data directory, the socket and the log. */
  readonly dir: string;
  readonly dataDir: string;
  readonly port: number;
  /** postgresql://user[:password]@127.0.0.1:port/database */
  url(options?: { password?: string; database?: string }): string;
  /** pg_ctl start -w: resolves once the server accepts connections. */
  start(): Promise<void>;
  /** pg_ctl stop -m fast (or the given mode) -w: resolves once the postmaster has exited. */
  stop(mode?: "smart" | "fast" | "immediate"): Promise<void>;
  /** Whether a postmaster of this cluster is running (its postmaster.pid names a live process). */
  running(): boolean;
  /** The cluster's server log so far (for failure messages). */
  log(): string;
  /** Stops the postmaster if it runs (fast, then immediate, then SIGKILL) and removes the folder. */
  destroy(): Promise<void>;
}

const clusters = new Set<PgCluster>();

const asRoot = typeof process.getuid === "function" && process.getuid() === 0;

function ids(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
  return { uid, gid };
}

/** Runs a PostgreSQL binary, as `postgres` when we are root (initdb and postgres refuse root). */
function pgCommand(binary: string, args: string[]): [string, string[]] {
  const path = join(PG_BIN, binary);
  return asRoot ? ["runuser", ["-u", "postgres", "--", path, ...args]] : [path, args];
}

async function pg(binary: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const [command, argv] = pgCommand(binary, args);
  try {
    const { stdout, stderr } = await run(command, argv, { timeout: timeoutMs, encoding: "utf8" });
    return stdout + stderr;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`${binary} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

/** A port nothing listens on right now (the kernel picks it), never 5432 or 6379. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const { port: picked } = server.address() as { port: number };
        server.close(() => resolve(picked));
      });
    });
    if (!RESERVED_PORTS.has(port)) return port;
  }
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * initdb in a new temporary folder (about 1-2 s); the cluster is not started. `fsync=off`: the tests
 * stop and kill the application, never the machine, so durability against a power cut is not what
 * they check, and the shared machine's disk is spared.
 */
export async function createPgCluster(): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), "tracedeck-fault-pg-"));
  const dataDir = join(dir, "data");
  const logFile = join(dir, "postgres.log");
  if (asRoot) {
    const { uid, gid } = ids("postgres");
    chownSync(dir, uid, gid);
  }
  const port = await freePort();

  const cluster: PgCluster = {
    dir,
    dataDir,
    port,
    url({ password, database = "postgres" } = {}) {
      const auth = password === undefined ? "postgres" : `postgres:${encodeURIComponent(password)}`;
      return `postgresql://${auth}@127.0.0.1:${port}/${database}`;
    },
    async start() {
      // -k: the socket in our folder, not /var/run/postgresql (the machine's server has it).
      const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off -c max_connections=100`;
      await pg("pg_ctl", ["start", "-D", dataDir, "-l", logFile, "-w", "-t", "60", "-o", options]).catch((error: Error) => {
        throw new Error(`${error.message}\n--- server log ---\n${cluster.log().slice(-4000)}`);
      });
    },
    async stop(mode = "fast") {
      await pg("pg_ctl", ["stop", "-D", dataDir, "-m", mode, "-w", "-t", "60"]);
    },
    running() {
      const pid = postmasterPid(dataDir);
      return pid !== undefined && alive(pid);
    },
    log() {
      try {
        return readFileSync(logFile, "utf8");
      } catch {
        return "";
      }
    },
    async destroy() {
      try {
        if (cluster.running()) {
          await cluster.stop("fast").catch(() => cluster.stop("immediate"));
        }
      } catch {
        // fall through to SIGKILL below
      }
      killLeftover(dataDir);
      rmSync(dir, { recursive: true, force: true });
      clusters.delete(cluster);
    },
  };
  clusters.add(cluster);
  try {
    await pg("initdb", ["-D", dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]);
    writeFileSync(logFile, "");
    if (asRoot) {
      const { uid, gid } = ids("postgres");
      chownSync(logFile, uid, gid);
    }
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
  return cluster;
}

/** SIGKILL a postmaster still running in dataDir (and wait a little for it to go). */
function killLeftover(dataDir: string): void {
  const pid = postmasterPid(dataDir);
  if (pid === undefined || !alive(pid)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
  const deadline = Date.now() + 5_000;
  while (alive(pid) && Date.now() < deadline) execFileSync("sleep", ["0.05"]);
}

/** For afterAll: stops and removes every cluster this test file created. */
export async function destroyAllPgClusters(): Promise<void> {
  await Promise.allSettled([...clusters].map((c) => c.destroy()));
}

// Last resort, synchronous: the worker is exiting with clusters still up (a hook did not run).
process.once("exit", () => {
  for (const cluster of clusters) {
    try {
      if (cluster.running()) {
        const [command, argv] = pgCommand("pg_ctl", ["stop", "-D", cluster.dataDir, "-m", "immediate", "-w", "-t", "10"]);
        execFileSync(command, argv, { stdio: "ignore", timeout: 15_000 });
      }
    } catch {
      killLeftover(cluster.dataDir);
    }
    try {
      rmSync(cluster.dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});
