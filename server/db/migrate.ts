import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../logger.js";
import { fromProjectRoot } from "../project-root.js";
import { silentLogger } from "../logger.js";
import type { SqlConnection } from "./sql-connection.js";

// From the project root, so the compiled server (dist/server/db) reads the same folder.
export const defaultMigrationsDir = fromProjectRoot("prisma", "migrations");

/** Any fixed 64-bit key: it names Tracedeck's migration lock among the server's advisory locks. */
export const MIGRATION_LOCK_KEY = 7_240_913_551;

// Prisma's own bookkeeping table, exactly as its engine creates it on PostgreSQL.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

export function checksumOf(sql: string | Buffer): string {
  return createHash("sha256").update(sql).digest("hex");
}

export function readMigrations(dir = defaultMigrationsDir): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, "migration.sql")))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const bytes = readFileSync(join(dir, name, "migration.sql"));
      return { name, sql: bytes.toString("utf8"), checksum: checksumOf(bytes) };
    });
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export interface MigrationStatus {
  applied: number;
  pending: number;
  latest: string | null;
}

async function appliedMigrations(conn: SqlConnection): Promise<AppliedRow[]> {
  const [exists] = await conn.query<{ present: boolean }>(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`);
  if (!exists?.present) return [];
  return conn.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL ORDER BY started_at, migration_name`,
  );
}

/** Compares the folder with the database; throws when an applied migration was changed or failed. */
function compare(files: MigrationFile[], applied: AppliedRow[]): { pending: MigrationFile[]; applied: string[] } {
  const byName = new Map(applied.map((row) => [row.migration_name, row]));
  for (const row of applied) {
    if (!row.finished_at) {
      throw new MigrationError(
        `Migration ${row.migration_name} started but did not finish. Inspect the database, then mark it rolled back or applied.`,
      );
    }
  }
  for (const file of files) {
    const row = byName.get(file.name);
    if (row && row.checksum !== file.checksum) {
      throw new MigrationError(
        `Migration ${file.name} was changed after it was applied (checksum in the database ${row.checksum}, ` +
          `on disk ${file.checksum}). Restore the original migration.sql and add a new migration instead.`,
      );
    }
  }
  const finished = applied.filter((row) => row.finished_at).map((row) => row.migration_name);
  return { pending: files.filter((file) => !byName.has(file.name)), applied: finished };
}

export async function migrationStatus(conn: SqlConnection, files = readMigrations()): Promise<MigrationStatus> {
  const { pending, applied } = compare(files, await appliedMigrations(conn));
  return { applied: applied.length, pending: pending.length, latest: applied.at(-1) ?? null };
}

export interface MigrateOptions {
  files?: MigrationFile[];
  log?: Logger;
  /** Test switch: keep the lock this long after taking it. */
  holdLockMs?: number;
}

/**
 * Applies pending migrations, each in its own transaction, recorded in _prisma_migrations the way
 * Prisma records them. A session advisory lock on this one dedicated connection serialises servers
 * that start together; the second waits, then finds nothing left to do.
 */
export async function migrate(conn: SqlConnection, options: MigrateOptions = {}): Promise<MigrationStatus & { appliedNow: string[] }> {
  const files = options.files ?? readMigrations();
  const log = options.log ?? silentLogger;
  log.debug("migrate.lock_waiting", { pid: process.pid, at: Date.now() });
  await conn.query(`SELECT pg_advisory_lock($1)`, [MIGRATION_LOCK_KEY]);
  log.info("migrate.lock_acquired", { pid: process.pid, at: Date.now() });
  const appliedNow: string[] = [];
  try {
    if (options.holdLockMs) await sleep(options.holdLockMs);
    await conn.exec(CREATE_MIGRATIONS_TABLE);
    const { pending } = compare(files, await appliedMigrations(conn));
    for (const file of pending) {
      await conn.exec("BEGIN");
      try {
        await conn.exec(file.sql);
        await conn.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, NULL, NULL, now(), 1)`,
          [randomUUID(), file.checksum, file.name],
        );
        await conn.exec("COMMIT");
      } catch (error) {
        await conn.exec("ROLLBACK");
        throw new MigrationError(`Migration ${file.name} failed and was rolled back: ${(error as Error).message}`);
      }
      appliedNow.push(file.name);
      log.info("migrate.applied", { migration: file.name });
    }
    return { ...(await migrationStatus(conn, files)), appliedNow };
  } finally {
    // The time is taken before the unlock is sent: a waiter is granted the lock (and may log it)
    // before this process hears back, so a later reading would put the release after the next hold.
    const releasedAt = Date.now();
    await conn.query(`SELECT pg_advisory_unlock($1)`, [MIGRATION_LOCK_KEY]);
    log.info("migrate.lock_released", { pid: process.pid, at: releasedAt });
  }
}
