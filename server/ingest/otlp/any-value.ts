/**
 * OTLP attribute values (AnyValue, in OTLP/JSON's shape) as plain JSON values: a kvlist becomes an
 * object, an array a list, bytes base64 text, a 64-bit integer a number when it is exact and its
 * decimal text otherwise.
 */
import type { JsonValue } from "../../services/json.js";

export type Attributes = ReadonlyMap<string, JsonValue>;

/** A span (or resource) that cannot be read: the span is rejected with this reason. */
export class SpanProblem extends Error {
  override name = "SpanProblem";
}

/** Nesting beyond this is refused before anything recursive goes deeper. */
const MAX_DEPTH = 64;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function integerOf(v: unknown, where: string): JsonValue {
  const text = typeof v === "number" && Number.isInteger(v) ? String(v) : typeof v === "string" && /^-?\d{1,20}$/.test(v) ? v : undefined;
  if (text === undefined) throw new SpanProblem(`${where}: intValue ${JSON.stringify(v)} is not an integer`);
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

function doubleOf(v: unknown, where: string): JsonValue {
  if (typeof v === "number") return v;
  // Proto3 JSON writes the non-finite doubles as strings, which JSON values cannot hold as numbers.
  if (v === "NaN" || v === "Infinity" || v === "-Infinity") return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  throw new SpanProblem(`${where}: doubleValue ${JSON.stringify(v)} is not a number`);
}

export function anyValue(value: unknown, where: string, depth = 0): JsonValue {
  if (depth > MAX_DEPTH) throw new SpanProblem(`${where}: nested more than ${MAX_DEPTH} levels`);
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) throw new SpanProblem(`${where}: an AnyValue must be an object`);
  if ("stringValue" in value) {
    if (typeof value.stringValue !== "string") throw new SpanProblem(`${where}: stringValue must be a string`);
    return value.stringValue;
  }
  if ("boolValue" in value) {
    if (typeof value.boolValue !== "boolean") throw new SpanProblem(`${where}: boolValue must be true or false`);
    return value.boolValue;
  }
  if ("intValue" in value) return integerOf(value.intValue, where);
  if ("doubleValue" in value) return doubleOf(value.doubleValue, where);
  if ("bytesValue" in value) {
    if (typeof value.bytesValue !== "string") throw new SpanProblem(`${where}: bytesValue must be base64 text`);
    return value.bytesValue;
  }
  if ("arrayValue" in value) {
    const values = isRecord(value.arrayValue) ? (value.arrayValue.values ?? []) : undefined;
    if (!Array.isArray(values)) throw new SpanProblem(`${where}: arrayValue.values must be a list`);
    return values.map((v, i) => anyValue(v, `${where}[${i}]`, depth + 1));
  }
  if ("kvlistValue" in value) {
    const values = isRecord(value.kvlistValue) ? (value.kvlistValue.values ?? []) : undefined;
    if (!Array.isArray(values)) throw new SpanProblem(`${where}: kvlistValue.values must be a list`);
    return Object.fromEntries(keyValues(values, where, depth + 1));
  }
  return null; // an empty AnyValue: no value set
}

function keyValues(list: unknown[], where: string, depth: number): [string, JsonValue][] {
  return list.map((kv, i) => {
    if (!isRecord(kv) || typeof kv.key !== "string") throw new SpanProblem(`${where}[${i}] needs a string key`);
    return [kv.key, anyValue(kv.value, `${where}.${kv.key}`, depth)];
  });
}

/** A KeyValue list (span, resource); a repeated key keeps its last value. */
export function attributesOf(list: unknown, where: string): Attributes {
  if (list === undefined || list === null) return new Map();
  if (!Array.isArray(list)) throw new SpanProblem(`${where} must be a list`);
  return new Map(keyValues(list, where, 0));
}
