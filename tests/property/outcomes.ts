// The two outcomes every input may have, checked the same way by every property: a success, or
// an expected failure (typed error or known GraphQL error code) that wrote nothing at all.
import { expect } from "vitest";
import { ConflictError, NotFoundError, ValidationError } from "../../server/errors.js";
import type { Database } from "../../server/db/client.js";
import type { GraphQLResponse } from "../helpers/app.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";

/** Codes a refused request may carry: the client's mistake, said so. Anything else is a bug. */
export const KNOWN_CODES = ["BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "INVALID_CURSOR"];
const TYPED_RESULTS = ["ValidationError", "NotFoundError", "ConflictError"];

/**
 * Runs: fast-check's default seed (printed on failure, with the path to replay it), a bounded
 * count. A run through the database costs two fingerprints (a dozen queries) on top of the call,
 * so those properties run fewer times than the pure ones, keeping the suite near 30 s on PGlite.
 */
export const RUNS = { numRuns: 100 };
export const PURE_RUNS = { numRuns: 300 };
export const PROPERTY_TIMEOUT_MS = 60_000;

/**
 * Runs a GraphQL mutation and returns its result member when it succeeded; on any failure checks
 * the error is expected and the database is exactly as before, and returns undefined.
 */
export async function mutationOutcome(db: Database, request: () => Promise<GraphQLResponse>): Promise<Record<string, any> | undefined> {
  const before = await databaseFingerprint(db.prisma);
  const response = await request();
  if (response.errors) {
    for (const error of response.errors) {
      expect(error.message).not.toBe("Unexpected error.");
      expect(KNOWN_CODES, JSON.stringify(error)).toContain(error.extensions?.code);
    }
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
    return undefined;
  }
  const [result] = Object.values(response.data!) as Record<string, any>[];
  if (TYPED_RESULTS.includes(result!.__typename)) {
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
    return undefined;
  }
  return result;
}

/** The same for a direct service call: a value, or a typed error with nothing written. */
export async function serviceOutcome<T>(db: Database, call: () => Promise<T>): Promise<T | undefined> {
  const before = await databaseFingerprint(db.prisma);
  try {
    return await call();
  } catch (error) {
    const typed = error instanceof ValidationError || error instanceof NotFoundError || error instanceof ConflictError;
    expect(typed, `an unexpected error: ${String((error as Error)?.stack ?? error)}`).toBe(true);
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
    return undefined;
  }
}

/** Counts both outcomes: a property that never succeeded (or never refused) has tested nothing. */
export class Tally {
  succeeded = 0;
  refused = 0;

  count<T>(value: T | undefined): T | undefined {
    if (value === undefined) this.refused++;
    else this.succeeded++;
    return value;
  }

  expectBoth(): void {
    expect(this.succeeded, "runs that succeeded").toBeGreaterThan(0);
    expect(this.refused, "runs that were refused").toBeGreaterThan(0);
  }
}
