// Defect 5: which failures mean "the database is not there" (retryable, 503) and which do not.
import { describe, expect, test } from "vitest";
import { PrismaPg } from "@prisma/adapter-pg";
import { databaseHostOf, isDatabaseUnavailable, isStatementTimeout } from "../../server/db/availability.js";
import { PrismaClient } from "../../server/db/generated/prisma/client.js";

describe("isDatabaseUnavailable", () => {
  test("a real Prisma client against a port nobody listens on", async () => {
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: "postgresql://postgres:pw@127.0.0.1:1/x", connectionTimeoutMillis: 2000 }) });
    const errors = await Promise.all([
      prisma.chat.findMany().catch((e: unknown) => e),
      prisma.$queryRawUnsafe("SELECT 1").catch((e: unknown) => e),
      prisma.$transaction(async (tx) => tx.chat.count()).catch((e: unknown) => e),
    ]);
    for (const error of errors) expect(isDatabaseUnavailable(error), String(error)).toBe(true);
    await prisma.$disconnect();
  });

  const wrapped = (cause: unknown) => Object.assign(new Error("outer"), { cause });
  test.each([
    ["pg: connection terminated", new Error("Connection terminated unexpectedly")],
    ["pg: pool timeout", new Error("timeout exceeded when trying to connect")],
    ["socket", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })],
    ["admin shutdown", Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" })],
    ["starting up", Object.assign(new Error("the database system is starting up"), { code: "57P03" })],
    ["adapter kind", { meta: { driverAdapterError: { cause: { kind: "ConnectionClosed" } } } }],
    ["wrapped cause", wrapped(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))],
  ])("%s is unavailable", (_name, error) => expect(isDatabaseUnavailable(error)).toBe(true));

  test.each([
    ["unique violation", Object.assign(new Error("duplicate key"), { code: "23505" })],
    ["bad password", Object.assign(new Error("password authentication failed"), { code: "28P01" })],
    ["a bug", new TypeError("x is undefined")],
    ["not an error", "ECONNREFUSED"],
    ["null", null],
  ])("%s is not", (_name, error) => expect(isDatabaseUnavailable(error)).toBe(false));

  test("a cyclic cause chain ends", () => {
    const a: { cause?: unknown; message: string } = { message: "a" };
    a.cause = { message: "b", cause: a };
    expect(isDatabaseUnavailable(a)).toBe(false);
  });
});

test("statement timeouts are told apart", () => {
  expect(isStatementTimeout(Object.assign(new Error("canceling statement due to statement timeout"), { code: "57014" }))).toBe(true);
  expect(isStatementTimeout({ meta: { driverAdapterError: { cause: { kind: "postgres", originalCode: "57014" } } } })).toBe(true);
  expect(isStatementTimeout(new Error("Connection terminated"))).toBe(false);
});

test("logs name the host and port, never the credentials", () => {
  expect(databaseHostOf("postgresql://user:s3cret@db.internal:5433/td")).toBe("db.internal:5433");
  expect(databaseHostOf("postgres://user:s3cret@db.internal/td")).toBe("db.internal:5432");
  expect(databaseHostOf("not a url s3cret")).not.toContain("s3cret");
});
