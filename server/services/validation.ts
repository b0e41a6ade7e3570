import { z } from "zod";
import { ValidationError } from "../errors.js";
import { instantProblem } from "./dates.js";
import { type JsonValue, jsonProblem, storableJson, storableText } from "./json.js";

export { type JsonValue, storableJson, storableText } from "./json.js";

/**
 * The deepest nesting a JSON input may have (each object or array counts one level): toolInput,
 * snapshot state, token usage, every JSON field. Real agent state keeps tool inputs a few levels
 * down inside messages, so this leaves plenty of room, while every recursive step after the check
 * (serialising, normalising, scrubbing, hashing) stays far from the stack's limit.
 */
export const MAX_JSON_DEPTH = 100;
/** Values a JSON field without a byte limit may hold: a backstop against huge or shared-subtree input. */
const MAX_JSON_NODES = 1_000_000;

/** Parses service input; a failure becomes a ValidationError that names each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    parsed.error.issues.map((issue) => ({
      path: issue.path.filter((p): p is string | number => typeof p !== "symbol"),
      message: issue.message,
    })),
  );
}

/** Lower-cased: PostgreSQL prints uuids in lower case, and locked chats are looked up by that text. */
export const uuid = z.uuid("must be a UUID").transform((id) => id.toLowerCase());
/** A GraphQL null and an absent field mean the same: not given. */
export const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);
export const count = z
  .number("must be a number")
  .int("must be a whole number")
  .min(0, "must not be negative")
  .max(2_147_483_647, "must fit in 32 bits")
  // -0 passes min(0); as the database stores it: 0, so a returned row equals the stored one.
  .overwrite((n) => n + 0);
/** A Date the database can store (see dates.ts for the range). */
export const date = z.date("must be a date").superRefine((d, ctx) => {
  const problem = instantProblem(d);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** UTF-8 bytes of a value's JSON; call it only on a value that passed `jsonValue` (bounded depth). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "null", "utf8");
}

/**
 * Any JSON value, checked (depth, cycles, values JSON cannot hold) without recursion before
 * anything recursive touches it, then made storable (see json.ts) and, given `maxBytes`, bounded
 * in size once serialised.
 */
export const jsonValue = (what: string, maxBytes?: number) =>
  z.unknown().transform((value, ctx): JsonValue => {
    // Each value takes at least a byte of JSON, so a byte limit bounds the count of values too.
    const problem = jsonProblem(value, MAX_JSON_DEPTH, maxBytes ?? MAX_JSON_NODES);
    if (problem) {
      const message = problem.tooLarge && maxBytes !== undefined ? `${what} is more than ${maxBytes} bytes of JSON; the limit is ${maxBytes}` : problem.message;
      ctx.addIssue({ code: "custom", path: problem.path, message });
      return z.NEVER;
    }
    const json = storableJson(value);
    if (maxBytes !== undefined) {
      const size = jsonBytes(json);
      if (size > maxBytes) {
        ctx.addIssue({ code: "custom", message: `${what} is ${size} bytes of JSON; the limit is ${maxBytes}` });
        return z.NEVER;
      }
    }
    return json;
  });

/** A string as stored: NUL characters and lone surrogates replaced (see json.ts). */
export const text = () => z.string().transform(storableText);
