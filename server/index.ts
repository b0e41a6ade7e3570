// Entry: load the configuration, open the database, migrate, sweep, listen; stop cleanly on signals.
import { buildApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { openDatabase, setPrisma } from "./db/client.js";
import { DataDirLockedError } from "./db/data-dir-lock.js";
import { migrate, MigrationError } from "./db/migrate.js";
import { createLogger } from "./logger.js";

async function main() {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    const conn = await db.openSqlConnection();
    try {
      await migrate(conn, { log, holdLockMs: config.TRACEDECK_TEST_MIGRATION_LOCK_HOLD_MS });
    } finally {
      await conn.close();
    }
    setPrisma(db.prisma);
    const app = buildApp({ config, db, log });
    const url = await app.start();
    const where = db.kind === "pglite" ? `embedded PGlite in ${config.DATA_DIR}` : "PostgreSQL";
    log.info(`Tracedeck listening on ${url} (database: ${where})`, { url, database: db.kind });

    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info("server.stopping", { signal });
      await app.stop();
      await db.close();
      log.info("server.stopped");
      process.exit(0);
    };
    process.once("SIGINT", () => void stop("SIGINT"));
    process.once("SIGTERM", () => void stop("SIGTERM"));
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof MigrationError;
  process.stderr.write(`Tracedeck could not start: ${known ? (error as Error).message : (error as Error).stack}\n`);
  process.exit(1);
});
