import type { Limits } from "../config.js";
import type { WriteSql } from "../db/sql-connection.js";
import type { PrismaClient, ToolTrace } from "../db/generated/prisma/client.js";
import type { EventBus } from "../events/pubsub.js";
import type { Logger } from "../logger.js";

/** What every service needs; built once per process (and per test). */
export interface ServiceDeps {
  prisma: PrismaClient;
  bus: EventBus;
  limits: Limits;
  log: Logger;
  /** The hot write path's direct statements (db.writeSql); without it they go through Prisma's raw queries. */
  writeSql?: WriteSql;
  /** Group-commit batches in flight at once: 1 on PGlite's one connection, more on PostgreSQL. */
  writeConcurrency?: number;
  /**
   * Traces the hot path committed, each with the event it is shown at, told before the events are
   * published (the app hands them to the live frames' row cache, so no subscriber reads them again).
   */
  onTracesCommitted?: (committed: readonly { trace: ToolTrace; seq: number }[]) => void;
}
