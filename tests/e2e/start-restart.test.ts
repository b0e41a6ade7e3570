// The server started the way the README starts it (`npm start`) on the embedded database, with PORT=0
// and a temporary DATA_DIR, and stopped by signalling its whole process group (npm, its shell, node).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, test } from "vitest";
import { defaultLimits } from "../../server/config.js";
import { openDatabase } from "../../server/db/client.js";
import { migrate, readMigrations } from "../../server/db/migrate.js";
import { createEventBus } from "../../server/events/pubsub.js";
import { silentLogger } from "../../server/logger.js";
import { createServices } from "../../server/services/index.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
/** Arrival only: tsx, initdb and migrations on a shared two-core machine. Never a speed assertion. */
const ARRIVAL_MS = 120_000;
const TEST_MS = 400_000;

interface Started {
  child: ChildProcess;
  /** The process group: npm, the shell it runs the script in, and node. */
  pgid: number;
  output: () => string;
  /** Resolves to the URL from the "Tracedeck listening on http://..." line. */
  listening: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const groups = new Set<number>();
const dirs: string[] = [];

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

afterEach(async () => {
  // Whatever an assertion left behind: no server may outlive its test.
  for (const pgid of groups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const pgid of groups) await waitUntil(`process group ${pgid} to end`, () => !groupAlive(pgid)).catch(() => {});
  groups.clear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms = ARRIVAL_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tracedeck-e2e-"));
  dirs.push(dir);
  return dir;
}

/** `npm start` in the repository, in its own process group, with the given settings. */
function npmStart(env: Record<string, string>): Started {
  const child = spawn("npm", ["start"], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DATABASE_URL: "", REDIS_URL: "", LOG_LEVEL: "info", ...env },
  });
  const pgid = child.pid!;
  groups.add(pgid);
  let output = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once("exit", (code, signal) => resolveExit({ code, signal })),
  );
  const listening = new Promise<string>((resolveUrl, reject) => {
    const onData = (chunk: string) => {
      output += chunk;
      const match = /"msg":"Tracedeck listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match) resolveUrl(match[1]!);
    };
    child.stdout!.setEncoding("utf8").on("data", onData);
    child.stderr!.setEncoding("utf8").on("data", onData);
    void exited.then(({ code, signal }) => reject(new Error(`npm start exited (${code ?? signal}) before listening:\n${output}`)));
    setTimeout(() => reject(new Error(`npm start did not log its URL in time:\n${output}`)), ARRIVAL_MS).unref();
  });
  listening.catch(() => {}); // awaited by the tests that expect it
  return { child, pgid, output: () => output, listening, exited };
}

/** SIGTERM to the whole group, as a service manager would; resolves when every process of it is gone. */
async function stopGroup(server: Started): Promise<void> {
  process.kill(-server.pgid, "SIGTERM");
  await server.exited;
  await waitUntil(`process group ${server.pgid} to end`, () => !groupAlive(server.pgid));
  groups.delete(server.pgid);
}

async function health(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/healthz`);
  return { status: response.status, body: await response.json() };
}

const migrations = readMigrations();
const healthy = {
  status: "ok",
  database: { kind: "pglite", ok: true },
  migrations: { applied: migrations.length, pending: 0, latest: migrations.at(-1)!.name },
};

async function openDataDir(dataDir: string) {
  const db = await openDatabase({ dataDir });
  const services = createServices({ prisma: db.prisma, bus: createEventBus(), limits: defaultLimits, log: silentLogger });
  return { db, services };
}

test(
  "npm start serves /healthz, refuses a second start on the same folder, and a restart keeps the data",
  async () => {
    const dataDir = tempDir();
    const lockFile = join(dataDir, "tracedeck.lock");

    // First run: a new data folder is created and migrated.
    const first = npmStart({ PORT: "0", DATA_DIR: dataDir });
    const url = await first.listening;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
    expect(first.output()).toMatch(/"database":"pglite"/);
    expect(await health(url)).toEqual({ status: 200, body: healthy });
    expect(existsSync(lockFile)).toBe(true);
    const owner = readFileSync(lockFile, "utf8");

    // A second start on the same folder while the first runs is refused, and leaves the first alone.
    const second = npmStart({ PORT: "0", DATA_DIR: dataDir });
    const outcome = await Promise.race([
      second.exited,
      second.listening.then(
        (secondUrl) => ({ code: null, signal: null, listening: secondUrl }),
        () => new Promise<never>(() => {}), // it exited: the other branch settles
      ),
    ]);
    expect(outcome, `a second server started on the same folder:\n${second.output()}`).not.toHaveProperty("listening");
    const refused = await second.exited;
    await waitUntil("the refused start's process group to end", () => !groupAlive(second.pgid));
    groups.delete(second.pgid);
    expect(refused.code, second.output()).not.toBe(0);
    expect(refused.code).not.toBeNull();
    expect(second.output()).toContain(`The data folder ${resolve(dataDir)} is in use by another Tracedeck process`);
    expect(second.output()).not.toMatch(/Tracedeck listening on/);
    expect(readFileSync(lockFile, "utf8")).toBe(owner);
    expect(await health(url)).toEqual({ status: 200, body: healthy });

    // Stopped by its process group, it closes cleanly and gives the folder back.
    await stopGroup(first);
    expect(first.output()).toMatch(/"msg":"server\.stopped"/);
    expect(existsSync(lockFile)).toBe(false);

    // Between the runs (no HTTP write API yet): a chat, and a trace left running for two hours.
    const between = await openDataDir(dataDir);
    const chat = await between.services.chats.create({ title: "kept across restarts" });
    const stale = await between.services.traces.start({
      chatId: chat.id,
      toolName: "run_tests",
      toolInput: {},
      startedAt: new Date(Date.now() - 2 * 3600 * 1000),
    });
    const migrationRows = await between.db.prisma.$queryRawUnsafe<{ id: string; migration_name: string }[]>(
      `SELECT id, migration_name FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    expect(migrationRows.map((r) => r.migration_name)).toEqual(migrations.map((m) => m.name));
    await between.db.close();

    // Second run on the same folder.
    const third = npmStart({ PORT: "0", DATA_DIR: dataDir });
    const url2 = await third.listening;
    expect(await health(url2)).toEqual({ status: 200, body: healthy });
    await stopGroup(third);
    expect(existsSync(lockFile)).toBe(false);

    // The chat is still there; the migrations were not applied again; the start-up sweep ran.
    const after = await openDataDir(dataDir);
    try {
      const kept = await after.services.chats.get(chat.id);
      expect(kept.title).toBe("kept across restarts");
      expect(await after.db.prisma.$queryRawUnsafe(`SELECT id, migration_name FROM "_prisma_migrations" ORDER BY migration_name`)).toEqual(
        migrationRows,
      );
      const swept = await after.services.traces.get(stale.id);
      expect(swept.status).toBe("abandoned");
      const events = await after.db.prisma.chatEvent.findMany({ where: { chatId: chat.id }, orderBy: { seq: "asc" } });
      expect(events.map((e) => [e.seq, e.kind])).toEqual([
        [1, "chat_created"],
        [2, "trace_started"],
        [3, "trace_finished"],
      ]);
    } finally {
      await after.db.close();
    }
  },
  TEST_MS,
);

test(
  "a bad configuration value stops start-up with a message naming the variable, before touching the data folder",
  async () => {
    const dataDir = join(tempDir(), "never-created");
    const server = npmStart({ PORT: "abc", DATA_DIR: dataDir });
    const { code } = await server.exited;
    await waitUntil("the process group to end", () => !groupAlive(server.pgid));
    groups.delete(server.pgid);
    expect(code, server.output()).not.toBe(0);
    expect(server.output()).toMatch(/Tracedeck could not start: Invalid configuration:\s+PORT="abc": must be a whole number from 0 to 65535/);
    expect(server.output()).not.toMatch(/Tracedeck listening on/);
    expect(existsSync(dataDir)).toBe(false);
  },
  TEST_MS,
);

test(
  "a migration changed after it was applied stops start-up with a clear message, and frees the folder",
  async () => {
    const dataDir = tempDir();
    const db = await openDatabase({ dataDir });
    const conn = await db.openSqlConnection();
    await migrate(conn);
    const name = migrations[0]!.name;
    await conn.query(`UPDATE "_prisma_migrations" SET checksum = $1 WHERE migration_name = $2`, ["0".repeat(64), name]);
    await db.close();

    const server = npmStart({ PORT: "0", DATA_DIR: dataDir });
    const { code } = await server.exited;
    await waitUntil("the process group to end", () => !groupAlive(server.pgid));
    groups.delete(server.pgid);
    expect(code, server.output()).not.toBe(0);
    expect(server.output()).toContain(`Tracedeck could not start: Migration ${name} was changed after it was applied`);
    expect(server.output()).not.toMatch(/Tracedeck listening on/);
    expect(existsSync(join(dataDir, "tracedeck.lock"))).toBe(false);
  },
  TEST_MS,
);
