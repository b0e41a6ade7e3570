import type { JsonValue } from "./json.js";
import { handRules, type SecretRule, type TextRange } from "./secret-patterns.js";
import { secretlintRules } from "./secret-rules.js";
import { MAX_JSON_DEPTH } from "./validation.js";

/**
 * Secrets inside values: credential shapes (provider keys, cloud access keys, private key blocks,
 * bearer tokens, JWTs, connection-string passwords) found by secretlint's recommended rules and a
 * few shapes added by hand, each replaced by the marker while the rest of the text stays readable.
 *
 * Trace writes are a hot path, and almost no value holds a secret: one scan of a value for every
 * rule's anchor (a prefix or a context word its pattern needs) decides which rules run on it at
 * all. Most values pass that scan with no rule to run.
 */
export const REDACTED = "[redacted]";

export const VALUE_RULES: readonly SecretRule[] = [...secretlintRules, ...handRules];

const anchored = VALUE_RULES.filter((rule) => rule.anchor !== null);
const unanchored = VALUE_RULES.filter((rule) => rule.anchor === null);

/** Every anchor in one pattern: a value it does not match holds no secret any rule can find. */
const PREFILTER = new RegExp(anchored.map((rule) => `(?:${rule.anchor})`).join("|"), "g");
/** Each rule's anchor, tried where the prefilter matched: anchors of several rules may start at one place. */
const STICKY = anchored.map((rule) => new RegExp(`(?:${rule.anchor})`, "y"));

/** The rules whose anchor the text holds. */
function rulesFor(text: string): SecretRule[] {
  const hit = new Set<SecretRule>(unanchored);
  PREFILTER.lastIndex = 0;
  for (let match = PREFILTER.exec(text); match !== null; match = PREFILTER.exec(text)) {
    for (let i = 0; i < STICKY.length; i++) {
      const sticky = STICKY[i]!;
      sticky.lastIndex = match.index;
      if (sticky.test(text)) hit.add(anchored[i]!);
    }
    if (hit.size === VALUE_RULES.length) break;
    // On from the next character, not the match's end: another rule's anchor may start inside this one.
    PREFILTER.lastIndex = match.index + 1;
  }
  return [...hit];
}

/** The shortest text any rule finds a secret in: "://:p@", a URL with a one-letter password. */
const SHORTEST = 6;

/** Where the secrets in text are: sorted, overlapping and touching ranges merged. */
export function findSecrets(text: string): TextRange[] {
  if (text.length < SHORTEST) return [];
  const rules = rulesFor(text);
  if (rules.length === 0) return [];
  const ranges = rules
    .flatMap((rule) => rule.find(text))
    // The marker itself where a secret was (postgres://app:[redacted]@db): scrubbing again changes nothing.
    .filter(([start, end]) => text.slice(start, end) !== REDACTED)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const [start, end] of ranges) {
    const last = merged.at(-1);
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

export interface Scrubbed<T> {
  value: T;
  /** How many secrets were replaced. */
  count: number;
}

/** The text with each secret replaced by the marker. */
export function scrubText(text: string): Scrubbed<string> {
  const ranges = findSecrets(text);
  if (ranges.length === 0) return { value: text, count: 0 };
  let out = "";
  let at = 0;
  for (const [start, end] of ranges) {
    out += text.slice(at, start) + REDACTED;
    at = end;
  }
  return { value: out + text.slice(at), count: ranges.length };
}

/**
 * A JSON value (as `jsonValue` returns it: plain, acyclic, depth-bounded) with the secrets in each
 * of its strings replaced. Keys are kept: two keys scrubbed to one would merge their values. What
 * holds no secret is returned as it is, not copied.
 */
export function scrubJsonStrings(value: JsonValue): Scrubbed<JsonValue> {
  const counter = { count: 0 };
  return { value: walk(value, 0, counter), count: counter.count };
}

function walk(value: JsonValue, depth: number, counter: { count: number }): JsonValue {
  if (typeof value === "string") {
    const { value: text, count } = scrubText(value);
    counter.count += count;
    return text;
  }
  if (value === null || typeof value !== "object") return value;
  // Input reaches here through `jsonValue`, which bounds its depth; this keeps a misuse from overflowing the stack.
  if (depth > MAX_JSON_DEPTH) throw new Error(`scrubJsonStrings was given a value nested over ${MAX_JSON_DEPTH} levels: check it with jsonValue first`);
  const before = counter.count;
  if (Array.isArray(value)) {
    const items = value.map((child) => walk(child, depth + 1, counter));
    return counter.count === before ? value : items;
  }
  const entries = Object.entries(value).map(([key, child]) => [key, walk(child, depth + 1, counter)] as const);
  return counter.count === before ? value : Object.fromEntries(entries);
}
