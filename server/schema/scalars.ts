import { GraphQLError, Kind, type ValueNode } from "graphql";
import { parseDateTime } from "../services/dates.js";
import { builder } from "./builder.js";
import { quoted } from "./ids.js";

builder.scalarType("DateTime", {
  // Parsed as RFC 3339 with a zone, years 0001-9999 in UTC (see services/dates.ts); the description
  // is left as it was so the printed schema does not change.
  description: "An ISO 8601 instant with milliseconds, e.g. 2026-11-24T21:08:15.123Z",
  serialize: (value) => (value as Date).toISOString(),
  parseValue: (value) => parseDate(value),
  // The same check for a value written in the query itself.
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : { literal: ast.kind }),
});

const badInput = (message: string) => new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });

function parseDate(value: unknown): Date {
  if (typeof value !== "string") throw badInput("DateTime must be a string, e.g. 2026-11-24T21:08:15.123Z");
  const parsed = parseDateTime(value);
  if (!parsed.ok) throw badInput(`DateTime ${quoted(value)} ${parsed.problem}`);
  return parsed.date;
}

builder.scalarType("BigInt", {
  description: "A whole number that may pass 2^31 (token totals), serialised as a JSON number below 2^53.",
  serialize: (value) => {
    const n = typeof value === "bigint" ? value : BigInt(value as number);
    return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
  },
  parseValue: (value) => {
    if ((typeof value === "number" && Number.isSafeInteger(value)) || (typeof value === "string" && /^-?\d{1,30}$/.test(value))) return BigInt(value);
    throw badInput("BigInt must be a whole number, or its digits as a string");
  },
});

function literal(ast: ValueNode): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value)]));
    case Kind.LIST:
      return ast.values.map(literal);
    case Kind.NULL:
      return null;
    default:
      throw new GraphQLError("JSON literals cannot hold variables; pass the whole value as a variable");
  }
}

builder.scalarType("JSON", {
  description: "Any JSON value",
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: literal,
});
