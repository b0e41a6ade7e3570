/**
 * Telling "the database is not there" apart from every other failure: such an error is retryable,
 * is answered as DATABASE_UNAVAILABLE (HTTP 503) rather than masked, and keeps subscriptions
 * waiting rather than ending them.
 */

/** Driver adapter error kinds (Prisma's adapter-pg) that mean the server could not be reached or went away. */
const UNAVAILABLE_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections", "TlsConnectionError"]);
/** Prisma: can't reach, timed out, server closed the connection, pool timeout. */
const UNAVAILABLE_PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
/** Node socket errors. */
const UNAVAILABLE_ERRNO = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH"]);
/** PostgreSQL: connection exceptions (08…), shutting down / starting up (57P01–57P03), too many connections. */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3]|53300)$/;
/** pg's own wording for a connection that died or could not be had in time. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Can't reach database server|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command/i;

interface ErrorLike {
  code?: unknown;
  kind?: unknown;
  originalCode?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: unknown } };
}

/** The error and everything it wraps: causes and Prisma's driver adapter error. */
function* chain(error: unknown): Generator<ErrorLike> {
  const seen = new Set<unknown>();
  const pending = [error];
  while (pending.length > 0 && seen.size < 20) {
    const next = pending.pop();
    if (!next || typeof next !== "object" || seen.has(next)) continue;
    seen.add(next);
    const e = next as ErrorLike;
    yield e;
    pending.push(e.cause, e.meta?.driverAdapterError, e.meta?.driverAdapterError?.cause);
  }
}

export function isDatabaseUnavailable(error: unknown): boolean {
  for (const e of chain(error)) {
    if (typeof e.kind === "string" && UNAVAILABLE_KINDS.has(e.kind)) return true;
    if (typeof e.code === "string" && (UNAVAILABLE_PRISMA_CODES.has(e.code) || UNAVAILABLE_ERRNO.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code))) return true;
    if (typeof e.originalCode === "string" && UNAVAILABLE_SQLSTATE.test(e.originalCode)) return true;
    if (typeof e.message === "string" && UNAVAILABLE_MESSAGE.test(e.message)) return true;
  }
  return false;
}

/** PostgreSQL cancelled a statement at STATEMENT_TIMEOUT_MS (SQLSTATE 57014). */
export function isStatementTimeout(error: unknown): boolean {
  for (const e of chain(error)) {
    if (e.code === "57014" || e.originalCode === "57014") return true;
    if (typeof e.message === "string" && /canceling statement due to statement timeout/i.test(e.message)) return true;
  }
  return false;
}

/** host:port of a connection string, for logs: never the user or the password. */
export function databaseHostOf(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname}:${url.port || "5432"}`;
  } catch {
    return "the configured host";
  }
}
