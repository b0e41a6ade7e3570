// `npm run db:migrate`: applies pending migrations to the configured database, then exits.
import { loadConfig } from "../config.js";
import { createLogger } from "../logger.js";
import { openDatabase } from "./client.js";
import { migrate } from "./migrate.js";

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);
const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
const conn = await db.openSqlConnection();
try {
  const result = await migrate(conn, { log, holdLockMs: config.TRACEDECK_TEST_MIGRATION_LOCK_HOLD_MS });
  log.info("migrate.done", { database: db.kind, appliedNow: result.appliedNow, applied: result.applied, latest: result.latest });
} catch (error) {
  log.error("migrate.failed", { error });
  process.exitCode = 1;
} finally {
  await conn.close();
  await db.close();
}
