import type { Logger } from "../logger.js";
import { isDatabaseUnavailable } from "./availability.js";
import type { Database } from "./client.js";
import type { SqlConnection } from "./sql-connection.js";

export class DatabaseUnreachableError extends Error {
  override name = "DatabaseUnreachableError";
}

/**
 * Start-up's first connection. A database that is not up yet (a container starting beside this
 * one, a restart) is waited for, with backoff, for timeoutMs; any other failure (a wrong password,
 * a missing database) is reported at once. Logs name the host, never the credentials.
 */
export async function connectWithRetry(db: Database, options: { timeoutMs: number; host: string; log: Logger }): Promise<SqlConnection> {
  const deadline = Date.now() + options.timeoutMs;
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.openSqlConnection();
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      const reason = (error as Error).message;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DatabaseUnreachableError(
          `the database at ${options.host} did not answer within ${Math.round(options.timeoutMs / 1000)} s (DATABASE_STARTUP_TIMEOUT_SECONDS): ${reason}`,
        );
      }
      const wait = Math.min(delay, left);
      options.log.warn(`database.unreachable: ${options.host} (attempt ${attempt}), retrying in ${wait} ms`, { host: options.host, attempt, retryInMs: wait, reason });
      await new Promise((resolve) => setTimeout(resolve, wait));
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
