import { join, resolve } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import pg from "pg";
import { PrismaClient } from "./generated/prisma/client.js";
import { lockDataDir } from "./data-dir-lock.js";
import { openPgliteDataDir } from "./pglite-open.js";
import type { SqlConnection, WriteSql } from "./sql-connection.js";

export type DatabaseKind = "pglite" | "postgresql";

export interface Database {
  kind: DatabaseKind;
  prisma: PrismaClient;
  /** A dedicated connection for migrations and health checks (PGlite has only one). */
  openSqlConnection(): Promise<SqlConnection>;
  /** The hot write path's statements, sent without Prisma (see services/trace-writes.ts). */
  writeSql: WriteSql;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  /** PostgreSQL only: the server cancels a statement running longer (0 or unset: no limit). */
  statementTimeoutMs?: number;
}

// Short interactive transactions only; PGlite serialises them on one connection.
const transactionOptions = { maxWait: 10_000, timeout: 30_000 };

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.statementTimeoutMs);
  return openPglite(options.dataDir);
}

// pg waits for a connection forever by default: during an outage a request would hang instead of failing.
const CONNECT_TIMEOUT_MS = 5_000;

function openPostgres(connectionString: string, statementTimeoutMs = 0): Database {
  const pool = {
    connectionString,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
    // Instants are read and written in UTC whatever the server's or database's TimeZone: under a
    // zone whose old offsets have seconds (Amsterdam in 1900), Prisma read dates back as Invalid Date.
    options: "-c TimeZone=UTC",
  };
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool), transactionOptions });
  // Its own pool: each write is one statement, so a few connections carry many writers (two
  // group-commit queues, starts and finishes, with WRITE_CONCURRENCY batches each, and spare).
  // lock_timeout: a batch that finds a chat's row lock held elsewhere for 3 s gives up and its
  // items go one by one through the general path, so other chats' writes in it do not wait with it.
  const writePool = new pg.Pool({ ...pool, max: 2 * WRITE_CONCURRENCY + 2, lock_timeout: WRITE_LOCK_TIMEOUT_MS });
  writePool.on("error", () => {}); // an idle connection's loss is reported by its next query
  return {
    kind: "postgresql",
    prisma,
    writeSql: {
      async query<T>(sql: string, params: unknown[] = [], name?: string) {
        return (await writePool.query(name ? { name, text: sql, values: params } : { text: sql, values: params })).rows as T[];
      },
    },
    async openSqlConnection() {
      const client = new pg.Client({ connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
      // A connection lost while idle is reported on the next query; unheard, the event would end the process.
      client.on("error", () => {});
      await client.connect();
      return {
        async query<T>(sql: string, params: unknown[] = []) {
          return (await client.query(sql, params)).rows as T[];
        },
        async exec(sql: string) {
          await client.query(sql);
        },
        async close() {
          await client.end();
        },
      };
    },
    async close() {
      await Promise.all([prisma.$disconnect(), writePool.end()]);
    },
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  const lock = lockDataDir(dataDir);
  let db: PGlite;
  try {
    // initdb in a child process and a smaller shared_buffers: see pglite-open.ts for the memory it saves.
    db = await openPgliteDataDir(join(resolve(dataDir), "pglite"));
  } catch (error) {
    lock.release();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db), transactionOptions });
  return {
    kind: "pglite",
    prisma,
    // PGlite's query waits for any transaction Prisma holds open on its one connection.
    writeSql: {
      async query<T>(sql: string, params: unknown[] = []) {
        return (await db.query<T>(sql, params)).rows;
      },
    },
    async openSqlConnection() {
      return {
        async query<T>(sql: string, params: unknown[] = []) {
          return (await db.query<T>(sql, params)).rows;
        },
        async exec(sql: string) {
          await db.exec(sql);
        },
        async close() {},
      };
    },
    async close() {
      await prisma.$disconnect();
      await db.close();
      lock.release();
    },
  };
}

/** Group-commit batches in flight per queue on PostgreSQL; what arrives meanwhile joins the next batch. */
const WRITE_CONCURRENCY = 4;
/** How long a hot write statement waits for a row lock before its batch takes the general path. */
const WRITE_LOCK_TIMEOUT_MS = 3_000;

/** PGlite has one connection: one batch at a time, and everything that arrives meanwhile joins the next. */
export const writeConcurrencyOf = (db: Pick<Database, "kind">) => (db.kind === "pglite" ? 1 : WRITE_CONCURRENCY);

let current: PrismaClient | undefined;

/** The process's Prisma client, opened at start-up (settable for tests). Pothos reads it lazily. */
export function getPrisma(): PrismaClient {
  if (!current) throw new Error("The database is not open yet: call setPrisma() after openDatabase()");
  return current;
}

export function setPrisma(client: PrismaClient | undefined): void {
  current = client;
}
