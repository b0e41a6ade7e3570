/** A value the server's JSON scalar takes as it is. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The server refuses JSON nested deeper than 100 levels; the SDK cuts well before. */
const MAX_DEPTH = 64;

/**
 * Any value as plain JSON, copied at call time (a tool may mutate its input later). Never throws:
 * cycles become "[Circular]", BigInt a string, functions and symbols vanish as in JSON.stringify,
 * NaN and Infinity null, Map and Set objects and lists, an Error its name and message.
 */
export function toJsonValue(value: unknown): JsonValue | undefined {
  return convert(value, 0, new Set());
}

function convert(value: unknown, depth: number, ancestors: Set<object>): JsonValue | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.has(object)) return "[Circular]";
  if (depth >= MAX_DEPTH) return "[Too deep]";
  ancestors.add(object);
  try {
    if (typeof (object as { toJSON?: unknown }).toJSON === "function") {
      return convert((object as { toJSON(): unknown }).toJSON(), depth, ancestors);
    }
    if (Array.isArray(object)) return object.map((item) => convert(item, depth + 1, ancestors) ?? null);
    if (object instanceof Map) return convertEntries([...object.entries()].map(([k, v]) => [String(k), v]), depth, ancestors);
    if (object instanceof Set) return [...object].map((item) => convert(item, depth + 1, ancestors) ?? null);
    if (object instanceof Error) return convertEntries([["name", object.name], ["message", object.message]], depth, ancestors);
    return convertEntries(Object.entries(object), depth, ancestors);
  } catch {
    // A getter or toJSON that throws: the value is described rather than lost with the call.
    return "[Unserializable]";
  } finally {
    ancestors.delete(object);
  }
}

function convertEntries(entries: [string, unknown][], depth: number, ancestors: Set<object>): JsonValue {
  const out: { [key: string]: JsonValue } = {};
  for (const [key, item] of entries) {
    const converted = convert(item, depth + 1, ancestors);
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}

const encoder = new TextEncoder();

/** UTF-8 size of a string, without encoding it when it is plainly small or plainly ASCII-sized. */
export function utf8Bytes(text: string): number {
  // Each UTF-16 unit is 1 to 3 UTF-8 bytes: short strings are counted exactly, cheaply.
  if (text.length < 4096) {
    let bytes = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) bytes += 1;
      else if (c < 0x800) bytes += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        bytes += 4;
        i++;
      } else bytes += 3;
    }
    return bytes;
  }
  return encoder.encode(text).byteLength;
}

/** A text cut to about `maxBytes` UTF-8 bytes, with a note saying how large it was. */
export function capText(text: string, maxBytes: number): string {
  const bytes = utf8Bytes(text);
  if (bytes <= maxBytes) return text;
  const note = `\n…[cut by @tracedeck/sdk: ${bytes} bytes in all]`;
  let cut = text.slice(0, Math.max(0, maxBytes));
  // Multi-byte text: shrink in proportion until it fits (two or three rounds at most in practice).
  for (let size = utf8Bytes(cut); size > maxBytes; size = utf8Bytes(cut)) cut = cut.slice(0, Math.floor((cut.length * maxBytes) / size));
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return cut + note;
}

/** A tool's input as stored: JSON, an object when the value is too large, never refused for its shape. */
export function toolInputOf(input: unknown, maxBytes: number): JsonValue {
  let value = toJsonValue(input);
  if (value === undefined) return {};
  // The server stores a bare number in 16 significant digits and refuses one it would round.
  if (typeof value === "number" && Number(value.toPrecision(16)) !== value) value = String(value);
  const text = JSON.stringify(value);
  const bytes = utf8Bytes(text);
  if (bytes <= maxBytes) return value;
  return { _tracedeck: `input omitted: ${bytes} bytes of JSON, over the SDK's maxInputBytes (${maxBytes})`, preview: capText(text, Math.min(2048, maxBytes)) };
}

/** A tool's return value as the trace's output text: a string as it is, anything else as JSON. */
export function outputOf(value: unknown, maxBytes: number): string | undefined {
  if (value === undefined) return undefined;
  let text: string;
  if (typeof value === "string") text = value;
  else {
    const json = toJsonValue(value);
    text = json === undefined ? String(value) : JSON.stringify(json);
  }
  return capText(text, maxBytes);
}

/** What a thrown value says: an Error's message (its name when empty), anything else as text. */
export function errorMessageOf(error: unknown): string {
  try {
    if (error instanceof Error) return error.message || error.name || "Error";
    if (typeof error === "string") return error || "(empty error)";
    const json = toJsonValue(error);
    return json === undefined ? String(error) : typeof json === "string" ? json : JSON.stringify(json);
  } catch {
    return "(unprintable error)";
  }
}
