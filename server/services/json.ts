/** A value JSON can hold, as Tracedeck stores it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Text as PostgreSQL can store it. Neither text nor jsonb holds U+0000 (a tool printing a binary
 * file produces it), and jsonb refuses a lone UTF-16 surrogate (half of an emoji cut in two)
 * while text silently turns it into U+FFFD on the way in. Both become U+FFFD here, so the write
 * is kept rather than refused, and what is stored is what the replay hashes compare.
 */
export function storableText(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return wellFormed.includes("\u0000") ? wellFormed.replaceAll("\u0000", "\uFFFD") : wellFormed;
}

/** What JSON.stringify writes for a value: its toJSON (a Date's ISO string), a boxed primitive unboxed. */
function asJson(value: unknown, key: string): unknown {
  let v = value;
  if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function") v = (v as { toJSON(key: string): unknown }).toJSON(key);
  if (v instanceof Number || v instanceof String || v instanceof Boolean) v = v.valueOf();
  return v;
}

export interface JsonProblem {
  /** Where, from the value's root. */
  path: (string | number)[];
  message: string;
  /** Set when the value holds more than maxNodes values. */
  tooLarge?: boolean;
}

interface Frame {
  value: unknown;
  depth: number;
  key: string | number | undefined;
  parent: Frame | undefined;
  /** Set on the marker popped once the value's children are done: it leaves the current path. */
  leaving?: boolean;
}

const pathOf = (frame: Frame | undefined): (string | number)[] => {
  const path: (string | number)[] = [];
  for (let f = frame; f?.key !== undefined; f = f.parent) path.unshift(f.key);
  return path;
};

/**
 * What makes a value unfit to store as JSON, found without recursion (so a value nested
 * thousands of levels deep cannot overflow the stack here), or undefined when it is fit:
 * nesting deeper than `maxDepth` (an object or array counts one level), a cycle, more than
 * `maxNodes` values in all (each takes at least a byte of JSON, so a bound in bytes bounds this;
 * it also stops a shared subtree from being walked exponentially often), a number JSON cannot
 * write (NaN, ±Infinity), or a bigint, function or symbol. As in JSON.stringify, `toJSON` is
 * applied, boxed primitives are unboxed and undefined is left out (null in an array).
 */
export function jsonProblem(root: unknown, maxDepth: number, maxNodes: number): JsonProblem | undefined {
  const stack: Frame[] = [{ value: root, depth: 0, key: undefined, parent: undefined }];
  const onPath = new Set<object>();
  let deepest = 0;
  let nodes = 0;
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.leaving) {
      onPath.delete(frame.value as object);
      continue;
    }
    if (++nodes > maxNodes) return { path: [], message: `holds more than ${maxNodes} values`, tooLarge: true };
    const value = asJson(frame.value, frame.key === undefined ? "" : String(frame.key));
    switch (typeof value) {
      case "string":
      case "boolean":
      case "undefined":
        continue;
      case "number":
        if (!Number.isFinite(value)) return { path: pathOf(frame), message: `must be a finite number, not ${value}` };
        continue;
      case "bigint":
      case "function":
      case "symbol":
        return { path: pathOf(frame), message: `is a ${typeof value}, which JSON cannot hold` };
    }
    if (value === null || value === undefined) continue;
    if (onPath.has(value)) return { path: pathOf(frame), message: "contains itself; JSON cannot hold a cycle" };
    const depth = frame.depth + 1;
    deepest = Math.max(deepest, depth);
    onPath.add(value);
    stack.push({ ...frame, value, leaving: true });
    const children: [string | number, unknown][] = Array.isArray(value)
      ? Array.from(value, (child, i) => [i, child]) // not map: it skips a sparse array's holes
      : Object.keys(value).map((key) => [key, (value as Record<string, unknown>)[key]]);
    // Reversed, so the walk (and the first problem it reports) follows the document's order.
    for (let i = children.length - 1; i >= 0; i--) stack.push({ value: children[i]![1], depth, key: children[i]![0], parent: frame });
  }
  if (deepest > maxDepth) return { path: [], message: `is nested ${deepest} levels deep; the limit is ${maxDepth}` };
  return undefined;
}

/**
 * The value as stored: a plain JSON copy with every string and key made storable, -0 written as 0
 * (as JSON does), undefined left out as JSON.stringify leaves it out. A "__proto__" key is left out
 * too: Prisma drops it on the way to the database (both backends), and the copy must be what is
 * stored, or a replay compared with the stored value would be taken for a conflict. Recursive:
 * call it only on a value jsonProblem passed, whose depth is bounded.
 */
export function storableJson(value: unknown, key = ""): JsonValue {
  const v = asJson(value, key);
  if (typeof v === "string") return storableText(v);
  if (typeof v === "number") return Object.is(v, -0) ? 0 : v;
  if (typeof v === "boolean") return v;
  if (Array.isArray(v)) return Array.from(v, (child, i) => (child === undefined ? null : storableJson(child, String(i))));
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v)
        .filter((k) => k !== "__proto__" && (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [storableText(k), storableJson((v as Record<string, unknown>)[k], k)]),
    );
  }
  return null;
}
