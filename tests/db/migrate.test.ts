// The migrations runner on an empty database of the project's backend (unit: PGlite, postgres:
// PostgreSQL). It must record migrations exactly as Prisma's engine does, so these tests check the
// table, the rows and the checksums themselves rather than trusting the runner's own helpers.
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { type Database, openDatabase } from "../../server/db/client.js";
import {
  checksumOf,
  defaultMigrationsDir,
  migrate,
  MigrationError,
  type MigrationFile,
  migrationStatus,
  readMigrations,
} from "../../server/db/migrate.js";
import type { SqlConnection } from "../../server/db/sql-connection.js";
import { createEmptyPostgresDatabase, testBackend } from "../helpers/db.js";

interface EmptyDatabase {
  db: Database;
  conn: SqlConnection;
}

const cleanups: (() => Promise<void>)[] = [];
let pgliteEmptyTemplate: string | undefined;

beforeAll(async () => {
  if (testBackend() !== "pglite") return;
  // initdb takes seconds: make one empty data folder, then copy it for each test.
  pgliteEmptyTemplate = mkdtempSync(join(tmpdir(), "tracedeck-empty-"));
  const db = await openDatabase({ dataDir: pgliteEmptyTemplate });
  await db.close();
}, 120_000);

afterAll(() => {
  if (pgliteEmptyTemplate) rmSync(pgliteEmptyTemplate, { recursive: true, force: true });
});

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

/** A database with nothing in it: no _prisma_migrations, no tables. */
async function emptyDatabase(): Promise<EmptyDatabase> {
  let db: Database;
  if (testBackend() === "pglite") {
    const dir = mkdtempSync(join(tmpdir(), "tracedeck-migrate-"));
    cpSync(pgliteEmptyTemplate!, dir, { recursive: true });
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    db = await openDatabase({ dataDir: dir });
  } else {
    const empty = await createEmptyPostgresDatabase();
    cleanups.push(() => empty.drop());
    db = await openDatabase({ databaseUrl: empty.url, dataDir: "" });
  }
  cleanups.push(() => db.close());
  const conn = await db.openSqlConnection();
  cleanups.push(() => conn.close());
  return { db, conn };
}

/** The migrations on disk, read here without the runner: name and the SHA-256 of migration.sql's bytes. */
function migrationsOnDisk(): { name: string; checksum: string }[] {
  return readdirSync(defaultMigrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(defaultMigrationsDir, entry.name, "migration.sql")))
    .map((entry) => entry.name)
    .sort()
    .map((name) => ({
      name,
      checksum: createHash("sha256").update(readFileSync(join(defaultMigrationsDir, name, "migration.sql"))).digest("hex"),
    }));
}

interface PrismaMigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

async function recorded(conn: SqlConnection): Promise<PrismaMigrationRow[]> {
  return conn.query<PrismaMigrationRow>(`SELECT * FROM "_prisma_migrations" ORDER BY started_at, migration_name`);
}

async function tableExists(conn: SqlConnection, table: string): Promise<boolean> {
  const [row] = await conn.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [table]);
  return row!.present;
}

function extraMigration(name: string, sql: string): MigrationFile {
  return { name, sql, checksum: checksumOf(Buffer.from(sql, "utf8")) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test("the repository has migrations, in Prisma's folder layout", () => {
  const onDisk = migrationsOnDisk();
  expect(onDisk.length).toBeGreaterThan(0);
  expect(existsSync(join(defaultMigrationsDir, "migration_lock.toml"))).toBe(true);
  expect(readMigrations().map((m) => ({ name: m.name, checksum: m.checksum }))).toEqual(onDisk);
});

test("applying is idempotent: the second run applies nothing and changes no row", async () => {
  const { conn } = await emptyDatabase();
  const names = migrationsOnDisk().map((m) => m.name);

  const first = await migrate(conn);
  expect(first.appliedNow).toEqual(names);
  expect(await tableExists(conn, "chats")).toBe(true);
  expect(await tableExists(conn, "chat_events")).toBe(true);
  const rowsAfterFirst = await recorded(conn);

  const second = await migrate(conn);
  expect(second.appliedNow).toEqual([]);
  expect(second).toMatchObject({ applied: names.length, pending: 0, latest: names.at(-1) });
  expect(await recorded(conn)).toEqual(rowsAfterFirst);
});

test("_prisma_migrations rows hold exactly Prisma's columns and values", async () => {
  const { conn } = await emptyDatabase();
  const before = Date.now();
  await migrate(conn);
  const rows = await recorded(conn);
  const onDisk = migrationsOnDisk();

  expect(rows.map((r) => r.migration_name)).toEqual(onDisk.map((m) => m.name));
  expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  for (const [i, row] of rows.entries()) {
    expect(Object.keys(row).sort()).toEqual(
      ["applied_steps_count", "checksum", "finished_at", "id", "logs", "migration_name", "rolled_back_at", "started_at"],
    );
    expect(row.id).toHaveLength(36);
    expect(row.id).toMatch(UUID);
    expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(row.checksum).toBe(onDisk[i]!.checksum);
    expect(row.finished_at).toBeInstanceOf(Date);
    expect(row.started_at).toBeInstanceOf(Date);
    expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
    // Both clocks are this machine's; allow a second of rounding either way.
    expect(row.started_at.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(row.applied_steps_count).toBe(1);
    expect(row.logs).toBeNull();
    expect(row.rolled_back_at).toBeNull();
  }
});

test("_prisma_migrations has the column types Prisma's engine creates", async () => {
  const { conn } = await emptyDatabase();
  await migrate(conn);
  const columns = await conn.query<{
    column_name: string;
    data_type: string;
    character_maximum_length: number | null;
    datetime_precision: number | null;
    is_nullable: string;
    column_default: string | null;
  }>(
    `SELECT column_name, data_type, character_maximum_length, datetime_precision, is_nullable, column_default
       FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = '_prisma_migrations'
      ORDER BY ordinal_position`,
  );
  const shape = columns.map((c) => [
    c.column_name,
    c.data_type,
    c.character_maximum_length === null ? null : Number(c.character_maximum_length),
    c.data_type.startsWith("timestamp") ? Number(c.datetime_precision) : null,
    c.is_nullable,
    c.column_default,
  ]);
  expect(shape).toEqual([
    ["id", "character varying", 36, null, "NO", null],
    ["checksum", "character varying", 64, null, "NO", null],
    ["finished_at", "timestamp with time zone", null, 6, "YES", null],
    ["migration_name", "character varying", 255, null, "NO", null],
    ["logs", "text", null, null, "YES", null],
    ["rolled_back_at", "timestamp with time zone", null, 6, "YES", null],
    ["started_at", "timestamp with time zone", null, 6, "NO", "now()"],
    ["applied_steps_count", "integer", null, null, "NO", "0"],
  ]);
  const primaryKey = await conn.query<{ attname: string }>(
    `SELECT a.attname FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = '"_prisma_migrations"'::regclass AND i.indisprimary`,
  );
  expect(primaryKey.map((r) => r.attname)).toEqual(["id"]);
});

describe("a changed checksum of an applied migration", () => {
  test("an edited migration.sql stops migrate with a MigrationError naming it, and nothing else is applied", async () => {
    const { conn } = await emptyDatabase();
    await migrate(conn);
    const rowsBefore = await recorded(conn);
    const files = readMigrations();
    const edited = files[0]!;
    const sql = `${edited.sql}\n-- edited after it was applied\n`;
    const changed = [
      { ...edited, sql, checksum: checksumOf(Buffer.from(sql, "utf8")) },
      ...files.slice(1),
      extraMigration("99990101000000_after_edit", `CREATE TABLE "probe_after_edit" ("id" INTEGER);`),
    ];

    const error = await migrate(conn, { files: changed }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(edited.name);
    expect((error as Error).message).toMatch(/changed/);
    await expect(migrationStatus(conn, changed)).rejects.toThrow(MigrationError);

    expect(await tableExists(conn, "probe_after_edit")).toBe(false);
    expect(await recorded(conn)).toEqual(rowsBefore);
  });

  test("a checksum changed in the database stops migrate too", async () => {
    const { conn } = await emptyDatabase();
    await migrate(conn);
    const name = migrationsOnDisk()[0]!.name;
    await conn.query(`UPDATE "_prisma_migrations" SET checksum = $1 WHERE migration_name = $2`, ["0".repeat(64), name]);
    const error = await migrate(conn).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(name);
  });
});

describe("a failing migration", () => {
  test("is rolled back and not recorded; the ones before it stay applied; the lock is released", async () => {
    const { db, conn } = await emptyDatabase();
    const name = "99990101000000_fails";
    // The first two statements succeed; the third fails: none of them may remain.
    const bad = extraMigration(
      name,
      `CREATE TABLE "probe_fails" ("id" INTEGER);\nINSERT INTO "probe_fails" VALUES (1);\nSELECT 1 / 0;\n`,
    );
    const files = [...readMigrations(), bad];

    const error = await migrate(conn, { files }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(name);

    expect(await tableExists(conn, "probe_fails")).toBe(false);
    const rows = await recorded(conn);
    expect(rows.map((r) => r.migration_name)).toEqual(migrationsOnDisk().map((m) => m.name));
    expect(rows.every((r) => r.finished_at !== null && r.applied_steps_count === 1)).toBe(true);
    expect(await migrationStatus(conn, files)).toEqual({ applied: rows.length, pending: 1, latest: rows.at(-1)!.migration_name });

    // Fixed, it applies, from another connection: the failed run did not keep the advisory lock
    // (on PostgreSQL a leaked session lock would make this wait forever).
    const other = await db.openSqlConnection();
    cleanups.push(() => other.close());
    const fixed = extraMigration(name, `CREATE TABLE "probe_fails" ("id" INTEGER);\n`);
    const result = await migrate(other, { files: [...readMigrations(), fixed] });
    expect(result.appliedNow).toEqual([name]);
    expect(result).toMatchObject({ applied: rows.length + 1, pending: 0, latest: name });
    expect(await tableExists(conn, "probe_fails")).toBe(true);
    const [row] = await conn.query<PrismaMigrationRow>(`SELECT * FROM "_prisma_migrations" WHERE migration_name = $1`, [name]);
    expect(row!.checksum).toBe(createHash("sha256").update(fixed.sql).digest("hex"));
  });

  test("a migration recorded as started but not finished stops migrate", async () => {
    const { conn } = await emptyDatabase();
    await migrate(conn);
    const name = "99990101000000_unfinished";
    await conn.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ('00000000-0000-4000-8000-000000000000', $1, $2, now(), 0)`,
      ["a".repeat(64), name],
    );
    const files = [...readMigrations(), extraMigration(name, `CREATE TABLE "probe_unfinished" ("id" INTEGER);`)];
    const error = await migrate(conn, { files }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(name);
    expect(await tableExists(conn, "probe_unfinished")).toBe(false);
  });
});

test("migrationStatus reports applied, pending and latest, and changes nothing", async () => {
  const { conn } = await emptyDatabase();
  const names = migrationsOnDisk().map((m) => m.name);

  expect(await migrationStatus(conn)).toEqual({ applied: 0, pending: names.length, latest: null });
  expect(await tableExists(conn, "_prisma_migrations")).toBe(false);

  await migrate(conn);
  expect(await migrationStatus(conn)).toEqual({ applied: names.length, pending: 0, latest: names.at(-1) });

  const extra = extraMigration("99990101000000_extra", `CREATE TABLE "probe_extra" ("id" INTEGER);`);
  const files = [...readMigrations(), extra];
  expect(await migrationStatus(conn, files)).toEqual({ applied: names.length, pending: 1, latest: names.at(-1) });
  expect(await tableExists(conn, "probe_extra")).toBe(false);

  const result = await migrate(conn, { files });
  expect(result).toEqual({ applied: names.length + 1, pending: 0, latest: extra.name, appliedNow: [extra.name] });
  expect(await migrationStatus(conn, files)).toEqual({ applied: names.length + 1, pending: 0, latest: extra.name });
});
