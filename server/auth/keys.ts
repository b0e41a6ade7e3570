import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * API keys: "td_" and 32 random bytes in base64url (43 characters). The prefix makes a leaked key
 * recognisable (secret scanners, logs); the first 8 characters after it are shown in lists.
 */
export const KEY_PREFIX = "td_";
const KEY_BYTES = 32;
/** Keys made here are exactly 43 characters after td_; a bootstrap key may be longer. */
export const KEY_PATTERN = /^td_[A-Za-z0-9_-]{43,128}$/;

export const generateKey = (): string => `${KEY_PREFIX}${randomBytes(KEY_BYTES).toString("base64url")}`;

export const looksLikeKey = (value: string): boolean => KEY_PATTERN.test(value);

/** What lists show of a key: td_ and its next 8 characters (48 of its 256 random bits). */
export const displayPrefix = (key: string): string => key.slice(0, KEY_PREFIX.length + 8);

/**
 * A plain SHA-256, not a password hash: stretching (bcrypt, scrypt, argon2) protects guessable
 * secrets; a key has 256 random bits, which no amount of guessing reaches, and verifying it must
 * stay cheap on the hot path (thousands of trace writes a second).
 */
export const hashKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex");

/** Two hex hashes compared in constant time (same length by construction). */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}
