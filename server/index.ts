// Entry: load the configuration, open the database, migrate, sweep, listen; stop cleanly on signals.
import { SandboxUnavailableError } from "./agent/command-errors.js";
import { buildApp } from "./app.js";
import { ConfigError, DEFAULT_CURSOR_SECRET, isLoopbackHost, loadConfig } from "./config.js";
import { type Database, openDatabase, setPrisma } from "./db/client.js";
import { DatabaseUnreachableError } from "./db/connect-with-retry.js";
import { DataDirLockedError } from "./db/data-dir-lock.js";
import { MigrationError } from "./db/migrate.js";
import { prepareDatabase } from "./db/prepare.js";
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
  // One stop, whatever signals follow: a supervisor signalling the process group and npm forwarding
  // the same signal would otherwise kill the process in the middle of its drain.
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return log.info("server.already_stopping", { signal });
    stopping = true;
    void stopHandler(signal);
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, statementTimeoutMs: config.STATEMENT_TIMEOUT_MS });
  const opened = db;
  try {
    await prepareDatabase(opened, config, log);
    setPrisma(opened.prisma);
    const app = buildApp({ config, db: opened, log });
    const url = await app.start();
    const where = opened.kind === "pglite" ? `embedded PGlite in ${config.DATA_DIR}` : "PostgreSQL";
    if (config.CURSOR_SECRET === DEFAULT_CURSOR_SECRET && !isLoopbackHost(config.HOST.replace(/^\[|\]$/g, ""))) {
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
  const known = [ConfigError, DataDirLockedError, MigrationError, DatabaseUnreachableError, SandboxUnavailableError].some((kind) => error instanceof kind);
  // One line a person can act on; the stack only when asked for (LOG_LEVEL=debug).
  const message = known ? (error as Error).message : `${(error as Error).name}: ${(error as Error).message}`;
  process.stderr.write(`Tracedeck could not start: ${message}\n`);
  if (!known && process.env.LOG_LEVEL === "debug") process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
