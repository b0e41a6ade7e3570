import { z } from "zod";
import { ValidationError } from "../errors.js";

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
  .max(2_147_483_647, "must fit in 32 bits");
export const date = z.date("must be a date").refine((d) => !Number.isNaN(d.getTime()), "must be a valid date");

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "null", "utf8");
}

/** A JSON value no larger than max bytes once serialised. */
export const boundedJson = (max: number, what: string) =>
  z.unknown().superRefine((value, ctx) => {
    const size = jsonBytes(value);
    if (size > max) ctx.addIssue({ code: "custom", message: `${what} is ${size} bytes of JSON; the limit is ${max}` });
  });

/**
 * PostgreSQL's text and jsonb cannot hold U+0000, which a tool printing a binary file produces.
 * Such characters are stored as U+FFFD, so the write is kept rather than refused.
 */
export function withoutNul(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text;
}

/** The same, through every string and key of a JSON value. */
export function jsonWithoutNul(value: unknown): unknown {
  if (typeof value === "string") return withoutNul(value);
  if (Array.isArray(value)) return value.map(jsonWithoutNul);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [withoutNul(key), jsonWithoutNul(child)]));
  }
  return value;
}

/** A string as stored: NUL characters replaced. */
export const text = () => z.string().transform(withoutNul);
