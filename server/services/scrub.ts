import type { JsonValue } from "./json.js";
import { REDACTED, scrubText } from "./scrub-values.js";
import { MAX_JSON_DEPTH } from "./validation.js";

export { REDACTED, type Scrubbed, scrubJsonStrings, scrubText } from "./scrub-values.js";

/**
 * The one place Tracedeck decides what is a secret. A snapshot is shown to every viewer and handed
 * back by a restore, so secrets are replaced before it is stored (and before a replay is compared
 * with what is stored, so a retried save carrying a secret is still an identical replay).
 *
 * A key is secret when its words end with a secret word or phrase. Words are split at `_`, `-`,
 * `.`, spaces and any other non-alphanumeric character, and at case changes (camelCase,
 * PascalCase, ALLCAPS followed by a word: "XApiKey" is x api key). Matching the END of the key
 * names the value itself: OPENAI_API_KEY and x-api-key are secrets, apiKeyId and tokenCount are
 * about one. Whole words only: tokenizer, keyboard, author, passage and secretary stay in clear.
 *
 * A value is secret when it has a credential's shape, wherever it is (scrub-values.ts): in a
 * snapshot's strings, and in a trace's input, output and error (traces.ts). SCRUB_SECRETS=false
 * turns that off; the key rule above always applies to snapshots.
 */

/** Phrases (as words) a secret key ends with. */
const SECRET_PHRASES: readonly string[][] = [
  ["password"], ["passwd"], ["passphrase"], ["secret"], ["token"], ["jwt"],
  ["authorization"], ["auth"], ["bearer"], ["credential"], ["credentials"], ["cookie"], ["cookies"],
  ["apikey"],
  ["api", "key"], ["secret", "key"], ["private", "key"], ["access", "key"], ["signing", "key"],
  ["encryption", "key"], ["master", "key"], ["auth", "key"], ["client", "key"],
];

/**
 * Words run together without a separator (ALLCAPS environment names): PGPASSWORD, APIKEY,
 * AUTHTOKEN. Only these unambiguous endings; "token" alone would take detokenize's kin.
 */
const SECRET_WORD_ENDINGS = ["password", "passwd", "passphrase", "apikey", "authtoken", "accesstoken", "refreshtoken", "privatekey", "secretkey", "clientsecret"];

/**
 * A token that is a position or a vocabulary entry, not a credential: pagination (next_page_token
 * hands out nothing) and a tokenizer's special tokens (eos_token: "</s>"), or a limit (max_token).
 */
const NOT_CREDENTIAL_TOKEN = new Set(["page", "next", "prev", "previous", "continuation", "sync", "eos", "bos", "pad", "unk", "sep", "cls", "mask", "stop", "start", "end", "special", "max", "min"]);

/** "OPENAI_API_KEY" → openai api key; "XAuthToken" → x auth token; "apiKEY" → api key; "OAuth" → oauth. */
export function keyWords(key: string): string[] {
  return key
    // One word, not "o auth": oauth settings are not an auth secret (an OAuthToken still is, by "token").
    .replace(/OAuth/g, "Oauth")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

const endsWith = (words: string[], phrase: readonly string[]) =>
  words.length >= phrase.length && phrase.every((word, i) => words[words.length - phrase.length + i] === word);

export function isSecretKey(key: string): boolean {
  const words = keyWords(key);
  const last = words.at(-1);
  if (last === undefined) return false;
  // The shell's PWD is the working directory; DB_PWD and userPwd are passwords.
  if (last === "pwd") return words.length > 1;
  if (last === "token" && words.length > 1 && NOT_CREDENTIAL_TOKEN.has(words.at(-2)!)) return false;
  return SECRET_PHRASES.some((phrase) => endsWith(words, phrase)) || SECRET_WORD_ENDINGS.some((ending) => last.endsWith(ending));
}

/**
 * Under a secret key: every non-empty string and every number becomes REDACTED (a PIN or a numeric
 * password is as secret as a string one), through nested objects and arrays too (apiKey: { value:
 * "sk-…" }), their keys kept so the shape stays visible. Booleans, null and "" say nothing and are
 * kept (hasSecret: true, password: "").
 */
function redactAll(value: JsonValue, depth: number): JsonValue {
  if (typeof value === "string") return value === "" ? value : REDACTED;
  if (typeof value === "number") return REDACTED;
  if (value === null || typeof value === "boolean") return value;
  guardDepth(depth);
  if (Array.isArray(value)) return value.map((child) => redactAll(child, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, redactAll(child, depth + 1)]));
}

function guardDepth(depth: number): void {
  // Input reaches here through `jsonValue`, which bounds its depth; this keeps a misuse from overflowing the stack.
  if (depth > MAX_JSON_DEPTH) throw new Error(`scrubSecrets was given a value nested over ${MAX_JSON_DEPTH} levels: check it with jsonValue first`);
}

/**
 * A copy of a JSON value (as `jsonValue` returns it: plain, acyclic, depth-bounded) with the values
 * under secret keys redacted, anywhere in it, and (unless `values` is false) the secrets inside its
 * other strings. Idempotent: scrubbing a scrubbed value changes nothing.
 */
export function scrubSecrets(value: JsonValue, options: { values?: boolean } = {}): JsonValue {
  return scrub(value, 0, options.values ?? true);
}

function scrub(value: JsonValue, depth: number, values: boolean): JsonValue {
  if (typeof value === "string") return values ? scrubText(value).value : value;
  if (value === null || typeof value !== "object") return value;
  guardDepth(depth);
  if (Array.isArray(value)) return value.map((child) => scrub(child, depth + 1, values));
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, isSecretKey(key) ? redactAll(child, depth + 1) : scrub(child, depth + 1, values)]));
}
