// Entry: load the configuration, open the database, migrate, sweep, listen; stop cleanly on signals.
import { buildApp } from "./app.js";
import { ConfigError, DEFAULT_CURSOR_SECRET, loadConfig } from "./config.js";
import { type Database, openDatabase, setPrisma } from "./db/client.js";
import { DataDirLockedError } from "./db/data-dir-lock.js";
import { migrate, MigrationError } from "./db/migrate.js";
import { createLogger } from "./logger.js";

async function main() {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  // A signal during start-up (initdb, migrations) still closes the database and frees the data folder.
  let db: Database | undefined;
  let stopHandler = async (signal: string) => {
    log.info("server.stopping", { signal, during: "start-up" });
    await db?.close().catch(() => {});
    process.exit(1);
  };
  process.once("SIGINT", () => void stopHandler("SIGINT"));
  process.once("SIGTERM", () => void stopHandler("SIGTERM"));
  db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  const opened = db;
  try {
    const conn = await opened.openSqlConnection();
    try {
      await migrate(conn, { log, holdLockMs: config.TRACEDECK_TEST_MIGRATION_LOCK_HOLD_MS });
    } finally {
      await conn.close();
    }
    setPrisma(opened.prisma);
    const app = buildApp({ config, db: opened, log });
    const url = await app.start();
    const where = opened.kind === "pglite" ? `embedded PGlite in ${config.DATA_DIR}` : "PostgreSQL";
    if (config.CURSOR_SECRET === DEFAULT_CURSOR_SECRET && !["127.0.0.1", "localhost", "::1"].includes(config.HOST)) {
      log.warn("config.default_cursor_secret", { hint: "set CURSOR_SECRET: with the built-in one, anyone can make cursors this server accepts" });
    }
    log.info(`Tracedeck listening on ${url} (database: ${where})`, { url, database: opened.kind });

    stopHandler = async (signal: string) => {
      log.info("server.stopping", { signal });
      await app.stop();
      await opened.close();
      log.info("server.stopped");
      process.exit(0);
    };
  } catch (error) {
    await opened.close().catch(() => {});
    throw error;
  }
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof MigrationError;
  process.stderr.write(`Tracedeck could not start: ${known ? (error as Error).message : (error as Error).stack}\n`);
  process.exit(1);
});
