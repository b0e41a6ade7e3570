import { GraphQLError, Kind, type ValueNode } from "graphql";
import { builder } from "./builder.js";

builder.scalarType("DateTime", {
  description: "An ISO 8601 instant with milliseconds, e.g. 2026-11-24T21:08:15.123Z",
  serialize: (value) => (value as Date).toISOString(),
  parseValue: (value) => parseDate(value),
});

function parseDate(value: unknown): Date {
  const date = typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw new GraphQLError(`DateTime must be an ISO 8601 string, got ${JSON.stringify(value)}`);
  return date;
}

builder.scalarType("BigInt", {
  description: "A whole number that may pass 2^31 (token totals), serialised as a JSON number below 2^53.",
  serialize: (value) => {
    const n = typeof value === "bigint" ? value : BigInt(value as number);
    return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
  },
  parseValue: (value) => BigInt(value as string | number),
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
