import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { databaseHostOf } from "./availability.js";
import type { Database } from "./client.js";
import { connectWithRetry } from "./connect-with-retry.js";
import { migrate } from "./migrate.js";

/**
 * Readies an opened database for use, as the server and the command-line tools need it: waits for
 * it (DATABASE_STARTUP_TIMEOUT_SECONDS, with backoff) and applies pending migrations under the lock.
 */
export async function prepareDatabase(db: Database, config: Config, log: Logger): Promise<void> {
  const conn = await connectWithRetry(db, {
    timeoutMs: config.DATABASE_STARTUP_TIMEOUT_SECONDS * 1000,
    host: config.DATABASE_URL ? databaseHostOf(config.DATABASE_URL) : "embedded PGlite",
    log,
  });
  try {
    await migrate(conn, { log, holdLockMs: config.TRACEDECK_TEST_MIGRATION_LOCK_HOLD_MS });
  } finally {
    await conn.close();
  }
}
