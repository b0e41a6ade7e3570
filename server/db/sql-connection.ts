/** The little a migration or a health check needs of a connection, on pg and on PGlite alike. */
export interface SqlConnection {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a multi-statement script. */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

import type { PrismaClient } from "./generated/prisma/client.js";

/** One statement at a time, each its own transaction: all a data-modifying CTE needs. */
export interface WriteSql {
  /**
   * `name` prepares the statement once per connection where the driver can (pg): later calls send
   * only the parameters, not the statement's text, and PostgreSQL skips parsing it again.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], name?: string): Promise<T[]>;
}

/** The Prisma client's pool as a SqlConnection: for reads such as the health check. */
export function prismaSql(prisma: PrismaClient): SqlConnection {
  return {
    query: <T>(sql: string, params: unknown[] = []) => prisma.$queryRawUnsafe<T[]>(sql, ...params),
    exec: async (sql: string) => {
      await prisma.$executeRawUnsafe(sql);
    },
    close: async () => {},
  };
}

/** Where no direct connection is given (some tests build services from a Prisma client alone). */
export function prismaWriteSql(prisma: PrismaClient): WriteSql {
  return { query: prismaSql(prisma).query };
}
