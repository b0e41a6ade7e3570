import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { isDatabaseUnavailable, isStatementTimeout } from "../db/availability.js";

export const DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE";

/**
 * The public form of a database failure the client can do something about (retry), or undefined
 * for any other error, which stays masked.
 */
export function publicDatabaseError(original: unknown, path?: readonly (string | number)[]): GraphQLError | undefined {
  if (isDatabaseUnavailable(original)) {
    return new GraphQLError("The database is unavailable; retry shortly", { path, extensions: { code: DATABASE_UNAVAILABLE, retryable: true } });
  }
  if (isStatementTimeout(original)) {
    return new GraphQLError("The database took longer than STATEMENT_TIMEOUT_MS", { path, extensions: { code: "STATEMENT_TIMEOUT", retryable: true } });
  }
  return undefined;
}

/**
 * HTTP 503 (with Retry-After) for a request that nothing could serve because the database was
 * down: no field came back and every error is DATABASE_UNAVAILABLE. A partial answer stays 200.
 */
export function outageStatusPlugin(): Plugin {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (Symbol.asyncIterator in result) return;
          const errors = result.errors ?? [];
          const served = result.data && Object.values(result.data).some((value) => value !== null);
          // Seen before or after masking, depending on plugin order: check the code and the cause.
          const down = (e: GraphQLError) => e.extensions?.code === DATABASE_UNAVAILABLE || isDatabaseUnavailable(e.originalError);
          if (errors.length === 0 || served || !errors.every(down)) return;
          setResult({ ...result, extensions: { ...result.extensions, http: { status: 503, headers: { "retry-after": "1" } } } });
        },
      };
    },
  };
}
