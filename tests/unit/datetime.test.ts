import { GraphQLError, type GraphQLScalarType, parseValue } from "graphql";
import { describe, expect, test } from "vitest";
import { schema } from "../../server/schema/index.js";
import { parseDateTime } from "../../server/services/dates.js";
import { date, parseInput } from "../../server/services/validation.js";
import { z } from "zod";

const accepted: [string, string][] = [
  ["2026-11-24T21:08:15.123Z", "2026-11-24T21:08:15.123Z"],
  ["2026-11-24T21:08:15Z", "2026-11-24T21:08:15.000Z"],
  ["2026-11-24t21:08:15z", "2026-11-24T21:08:15.000Z"],
  ["2026-11-24T23:08:15.5+02:00", "2026-11-24T21:08:15.500Z"],
  ["2026-11-24T16:38:15-04:30", "2026-11-24T21:08:15.000Z"],
  ["2026-11-24T21:08:15.123456789Z", "2026-11-24T21:08:15.123Z"], // truncated, not rounded
  ["2026-11-24T21:08:15.9999Z", "2026-11-24T21:08:15.999Z"],
  ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"], // leap year
  ["2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z"], // divisible by 400
  ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"],
  ["0050-06-01T00:00:00Z", "0050-06-01T00:00:00.000Z"], // not read as 1950
  ["9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"],
  ["0001-01-01T00:30:00-01:00", "0001-01-01T01:30:00.000Z"],
];

const refused: [string, RegExp][] = [
  ["2024-02-30T00:00:00Z", /has day 30, but February 2024 has 29 days/],
  ["2023-02-29T00:00:00Z", /February 2023 has 28 days/],
  ["1900-02-29T00:00:00Z", /February 1900 has 28 days/],
  ["2026-04-31T00:00:00Z", /April 2026 has 30 days/],
  ["2026-00-10T00:00:00Z", /month 00/],
  ["2026-13-10T00:00:00Z", /month 13/],
  ["2026-01-00T00:00:00Z", /day 00/],
  ["2026-01-01T24:00:00Z", /hour 24/],
  ["2026-01-01T23:60:00Z", /minute 60/],
  ["2016-12-31T23:59:60Z", /leap second/],
  ["2026-01-01T23:59:61Z", /second 61/],
  ["2026-01-01T00:00:00+24:00", /zone offset/],
  ["2026-01-01T00:00:00+01:60", /zone offset/],
  ["2024-02-01T00:00:00", /with a zone/], // no zone: would be read in the server's zone
  ["2024-02-01", /RFC 3339/],
  ["2024-02-01 00:00:00Z", /RFC 3339/],
  ["2024-02-01T00:00Z", /RFC 3339/],
  ["2024-02-01T00:00:00.Z", /RFC 3339/],
  ["2024-02-01T00:00:00+0100", /RFC 3339/],
  ["+002024-02-01T00:00:00Z", /RFC 3339/],
  ["0000-01-01T00:00:00Z", /before the storable range/],
  ["0001-01-01T00:00:00+00:01", /before the storable range/],
  ["9999-12-31T23:59:59-00:01", /after the storable range/],
  ["", /RFC 3339/],
  ["１２３４-01-01T00:00:00Z", /RFC 3339/],
];

describe("parseDateTime", () => {
  test.each(accepted)("%s is %s", (text, iso) => {
    const parsed = parseDateTime(text);
    expect(parsed).toEqual({ ok: true, date: new Date(iso) });
  });

  test.each(refused)("%s is refused", (text, problem) => {
    const parsed = parseDateTime(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toMatch(problem);
  });
});

describe("the DateTime scalar", () => {
  const scalar = schema.getType("DateTime") as GraphQLScalarType;
  const refusal = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(GraphQLError);
      return error as GraphQLError;
    }
    throw new Error("expected a GraphQLError");
  };

  test("a variable and a literal go through the same check", () => {
    expect(scalar.parseValue("2024-02-29T23:00:00-01:00")).toEqual(new Date("2024-03-01T00:00:00.000Z"));
    expect(scalar.parseLiteral(parseValue('"2024-02-29T23:00:00-01:00"'), undefined)).toEqual(new Date("2024-03-01T00:00:00.000Z"));
    for (const run of [() => scalar.parseValue("2024-02-30T00:00:00Z"), () => scalar.parseLiteral(parseValue('"2024-02-30T00:00:00Z"'), undefined)]) {
      const error = refusal(run);
      expect(error.message).toBe('DateTime "2024-02-30T00:00:00Z" has day 30, but February 2024 has 29 days');
      expect(error.extensions.code).toBe("BAD_USER_INPUT");
    }
  });

  test("a value that is not a string is refused, as variable or literal", () => {
    for (const value of [0, 1.5, null, true, {}, []]) expect(refusal(() => scalar.parseValue(value)).extensions.code).toBe("BAD_USER_INPUT");
    for (const literal of ["0", "1.5", "true", "{a: 1}", "[]", "ENUM"]) expect(refusal(() => scalar.parseLiteral(parseValue(literal), undefined)).message).toMatch(/must be a string/);
  });

  test("a very long value is quoted cut short", () => {
    const message = refusal(() => scalar.parseValue("x".repeat(10_000))).message;
    expect(message.length).toBeLessThan(300);
  });
});

describe("the services' date", () => {
  const schemaOf = z.object({ at: date });
  test.each([
    ["year 0", new Date("0000-06-01T00:00:00Z")],
    ["a negative year", new Date("-000500-01-01T00:00:00Z")],
    ["year 10000", new Date("+010000-01-01T00:00:00Z")],
    ["the largest Date", new Date(8.64e15)],
  ])("%s is a ValidationError naming the field", (_, value) => {
    expect(() => parseInput(schemaOf, { at: value })).toThrow("at: must be from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z");
  });

  test("an invalid Date and a non-Date are ValidationErrors", () => {
    expect(() => parseInput(schemaOf, { at: new Date(Number.NaN) })).toThrow("at: must be a date");
    expect(() => parseInput(schemaOf, { at: "2026-01-01T00:00:00Z" })).toThrow("at: must be a date");
  });

  test("both ends of the range are accepted", () => {
    for (const iso of ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"]) expect(parseInput(schemaOf, { at: new Date(iso) }).at.toISOString()).toBe(iso);
  });
});
