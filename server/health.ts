import type { Database } from "./db/client.js";
import { type MigrationFile, MigrationError, migrationStatus, readMigrations } from "./db/migrate.js";
import { prismaSql } from "./db/sql-connection.js";
import type { Logger } from "./logger.js";

export interface Health {
  status: "ok" | "unavailable";
  database: { kind: Database["kind"]; ok: boolean };
  migrations: { applied: number; pending: number; latest: string | null } | { error: string } | null;
}

/** What GET /healthz reports. It never shows a connection string: errors go to the log only. */
export async function checkHealth(db: Database, log: Logger, files: MigrationFile[] = readMigrations()): Promise<Health> {
  try {
    await db.prisma.$queryRawUnsafe("SELECT 1");
  } catch (error) {
    log.warn("health.database_unavailable", { error: (error as Error).message });
    return { status: "unavailable", database: { kind: db.kind, ok: false }, migrations: null };
  }
  try {
    const migrations = await migrationStatus(prismaSql(db.prisma), files);
    return { status: migrations.pending === 0 ? "ok" : "unavailable", database: { kind: db.kind, ok: true }, migrations };
  } catch (error) {
    // A changed or unfinished migration: the database answers, but the schema is not the code's.
    if (!(error instanceof MigrationError)) throw error;
    return { status: "unavailable", database: { kind: db.kind, ok: true }, migrations: { error: error.message } };
  }
}
