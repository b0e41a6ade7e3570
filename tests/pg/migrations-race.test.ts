// Two real processes run `npm run db:migrate`'s entry against one empty PostgreSQL database at the
// same moment. The first holds the migration lock for a while (the test switch); the second must wait
// for it, then find nothing left to apply.
//
// To make "at the same moment" certain on a loaded machine, the test itself holds the migration lock
// first, waits until both processes are queued on it (pg_locks), then lets go: PostgreSQL grants a
// lock to its waiters in queue order, so the first process spawned is the first to hold it.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterEach, expect, test } from "vitest";
import { MIGRATION_LOCK_KEY, readMigrations } from "../../server/db/migrate.js";
import { createEmptyPostgresDatabase } from "../helpers/db.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const ARRIVAL_MS = 60_000;

interface LogLine {
  msg: string;
  level: string;
  at?: number;
  pid?: number;
  [key: string]: unknown;
}

interface Migrator {
  child: ChildProcess;
  lines: LogLine[];
  stderr: string;
  exited: Promise<number | null>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

function startMigrator(databaseUrl: string, holdLockMs: number): Migrator {
  const child = spawn(process.execPath, ["--import", "tsx", "server/db/migrate-cli.ts"], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: "debug",
      TRACEDECK_TEST_MIGRATION_LOCK_HOLD_MS: holdLockMs ? String(holdLockMs) : "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const migrator: Migrator = {
    child,
    lines: [],
    stderr: "",
    exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
  };
  let partial = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    migrator.stderr += chunk;
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      if (!line.startsWith("{")) continue;
      try {
        migrator.lines.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log record
      }
    }
  });
  child.stdout!.resume();
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return migrator;
}

function only(m: Migrator, msg: string): LogLine {
  const found = m.lines.filter((l) => l.msg === msg);
  expect(found, `${msg} in the log of pid ${m.child.pid}:\n${m.stderr}`).toHaveLength(1);
  return found[0]!;
}

async function until(what: string, check: () => Promise<boolean> | boolean, migrators: Migrator[]): Promise<void> {
  const deadline = Date.now() + ARRIVAL_MS;
  while (!(await check())) {
    for (const m of migrators) {
      if (m.child.exitCode !== null) throw new Error(`pid ${m.child.pid} exited (${m.child.exitCode}) before ${what}:\n${m.stderr}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("two processes migrating one empty database at once: the second waits, every migration is applied once", async () => {
  const empty = await createEmptyPostgresDatabase();
  cleanups.push(() => empty.drop());

  const gate = new pg.Client({ connectionString: empty.url });
  await gate.connect();
  cleanups.push(() => gate.end());
  await gate.query(`SELECT pg_advisory_lock($1)`, [MIGRATION_LOCK_KEY]);
  const waiters = async () => {
    const { rows } = await gate.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND NOT granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return rows[0]!.n;
  };

  const first = startMigrator(empty.url, 1500);
  await until("the first process to queue on the migration lock", async () => (await waiters()) === 1, [first]);
  const second = startMigrator(empty.url, 0);
  await until("the second process to queue on the migration lock", async () => (await waiters()) === 2, [first, second]);
  await gate.query(`SELECT pg_advisory_unlock($1)`, [MIGRATION_LOCK_KEY]);

  const codes = await Promise.all([first.exited, second.exited]);
  expect(codes, `first:\n${first.stderr}\nsecond:\n${second.stderr}`).toEqual([0, 0]);

  const names = readMigrations().map((m) => m.name);
  const firstAcquired = only(first, "migrate.lock_acquired");
  const firstReleased = only(first, "migrate.lock_released");
  const secondWaiting = only(second, "migrate.lock_waiting");
  const secondAcquired = only(second, "migrate.lock_acquired");
  only(second, "migrate.lock_released");
  for (const line of [firstAcquired, firstReleased, secondWaiting, secondAcquired]) expect(typeof line.at).toBe("number");

  // The second was already waiting while the first held the lock, and got it only after the release.
  expect(firstAcquired.at!).toBeLessThanOrEqual(firstReleased.at!);
  expect(secondWaiting.at!).toBeLessThan(firstReleased.at!);
  expect(secondAcquired.at!).toBeGreaterThanOrEqual(firstReleased.at!);

  // The first applied everything, the second nothing.
  expect(first.lines.filter((l) => l.msg === "migrate.applied").map((l) => l.migration)).toEqual(names);
  expect(second.lines.filter((l) => l.msg === "migrate.applied")).toEqual([]);
  expect(only(first, "migrate.done")).toMatchObject({ appliedNow: names, applied: names.length, latest: names.at(-1) });
  expect(only(second, "migrate.done")).toMatchObject({ appliedNow: [], applied: names.length, latest: names.at(-1) });

  const { rows } = await gate.query<{ migration_name: string; n: number; finished: number }>(
    `SELECT migration_name, count(*)::int AS n, count(finished_at)::int AS finished
       FROM "_prisma_migrations" GROUP BY migration_name ORDER BY migration_name`,
  );
  expect(rows).toEqual(names.map((name) => ({ migration_name: name, n: 1, finished: 1 })));
}, 180_000);
