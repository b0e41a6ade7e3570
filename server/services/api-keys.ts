import { z } from "zod";
import { displayPrefix, generateKey, hashKey, looksLikeKey, sameHash } from "../auth/keys.js";
import { isScope, type Scope, SCOPES } from "../auth/scopes.js";
import type { ApiKey } from "../db/generated/prisma/client.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import type { ServiceDeps } from "./deps.js";
import { date, optional, parseInput, storableText } from "./validation.js";

/** A stored key as lists show it: never its hash. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export type ApiKeyStatus = "active" | "revoked" | "expired";

export const statusOf = (key: Pick<ApiKeyRecord, "revokedAt" | "expiresAt">, now = Date.now()): ApiKeyStatus =>
  key.revokedAt ? "revoked" : key.expiresAt && key.expiresAt.getTime() <= now ? "expired" : "active";

/** What verify() says about a presented key. */
export type KeyVerdict =
  | { status: "active"; key: ApiKeyRecord }
  | { status: "revoked" | "expired"; key: ApiKeyRecord }
  | { status: "unknown" }
  | { status: "malformed" };

/**
 * Verified keys are kept this long in memory, so a request on the hot path costs a hash and a map
 * lookup, not a database round trip. A revoke in this process empties the cache at once; one made
 * by another process (a second server, the CLI on PostgreSQL) is seen within this bound. Expiry is
 * checked against the clock on every use, cached or not.
 */
export const KEY_CACHE_MS = 5_000;
/** At most this many keys (known or not) are cached; the oldest entry goes first. */
export const KEY_CACHE_MAX_ENTRIES = 10_000;
/** last_used_at is written at most this often per key and process, after the request, never in its way. */
const TOUCH_INTERVAL_MS = 60_000;

const name = z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters").transform(storableText);
const scopes = z
  .array(z.string(), "must be a list of scopes")
  .min(1, `must hold at least one of ${SCOPES.join(", ")}`)
  .superRefine((list, ctx) => {
    list.forEach((scope, index) => {
      if (!isScope(scope)) ctx.addIssue({ code: "custom", path: [index], message: `unknown scope ${JSON.stringify(scope)}: use ${SCOPES.join(", ")}` });
    });
  })
  .transform((list) => SCOPES.filter((scope) => list.includes(scope)));

const createInput = z.object({ name, scopes, expiresAt: optional(date) });
export type CreateApiKeyInput = z.input<typeof createInput>;

const record = (row: ApiKey): ApiKeyRecord => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  scopes: row.scopes.filter(isScope),
  createdAt: row.createdAt,
  expiresAt: row.expiresAt,
  revokedAt: row.revokedAt,
  lastUsedAt: row.lastUsedAt,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** API keys: the only writer of api_keys. Keys are stored as their SHA-256 (auth/keys.ts says why). */
export function createApiKeyService(deps: ServiceDeps) {
  const { prisma, log } = deps;
  /** hash → the row (null: no such key) and when it was read. */
  const cache = new Map<string, { row: ApiKeyRecord | null; readAt: number }>();
  const touched = new Map<string, number>();

  function remember(hash: string, row: ApiKeyRecord | null): void {
    cache.delete(hash);
    if (cache.size >= KEY_CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(hash, { row, readAt: Date.now() });
  }

  async function lookup(hash: string): Promise<ApiKeyRecord | null> {
    const cached = cache.get(hash);
    if (cached && Date.now() - cached.readAt < KEY_CACHE_MS) return cached.row;
    const row = await prisma.apiKey.findUnique({ where: { hash } });
    // The index found it by equality; the constant-time compare keeps the check itself free of timing.
    const found = row && sameHash(row.hash, hash) ? record(row) : null;
    remember(hash, found);
    return found;
  }

  function touch(key: ApiKeyRecord): void {
    const now = Date.now();
    if (now - (touched.get(key.id) ?? 0) < TOUCH_INTERVAL_MS) return;
    touched.set(key.id, now);
    if (touched.size > KEY_CACHE_MAX_ENTRIES) touched.delete(touched.keys().next().value!);
    void prisma.apiKey.update({ where: { id: key.id }, data: { lastUsedAt: new Date(now) } }).catch((error: unknown) => {
      log.warn("api_keys.touch_failed", { keyId: key.id, error: (error as Error).message });
    });
  }

  async function insert(key: string, input: { name: string; scopes: Scope[]; expiresAt?: Date }): Promise<ApiKeyRecord> {
    const hash = hashKey(key);
    const row = await prisma.apiKey.create({
      data: { name: input.name, prefix: displayPrefix(key), hash, scopes: input.scopes, expiresAt: input.expiresAt ?? null },
    });
    cache.delete(hash); // a "no such key" remembered before it existed
    return record(row);
  }

  /** The key an id, a listed prefix (or its start) or the key itself names; else NotFoundError / ConflictError. */
  async function find(idOrPrefix: string): Promise<ApiKey> {
    const given = idOrPrefix.trim();
    if (given === "") throw new ValidationError([{ path: ["id"], message: "name the key by its id or its prefix (td_…)" }]);
    const rows = looksLikeKey(given)
      ? await prisma.apiKey.findMany({ where: { hash: hashKey(given) } })
      : UUID.test(given)
        ? await prisma.apiKey.findMany({ where: { id: given.toLowerCase() } })
        : await byPrefix(given);
    if (rows.length === 0) throw new NotFoundError("ApiKey", given, `No API key has the id or prefix ${JSON.stringify(given)}`);
    if (rows.length > 1) {
      throw new ConflictError(`Several API keys start with ${JSON.stringify(given)}: name one by its id (${rows.map((r) => r.id).join(", ")})`, "ApiKey", given);
    }
    return rows[0]!;
  }

  /** Keys whose listed prefix starts with `given` (compared here: LIKE would read _ and % as wildcards). */
  async function byPrefix(given: string): Promise<ApiKey[]> {
    const start = given.slice(0, 11);
    const rows = await prisma.apiKey.findMany({ where: { prefix: { startsWith: start.slice(0, 3) } }, orderBy: { createdAt: "asc" } });
    return rows.filter((row) => row.prefix.startsWith(start));
  }

  async function hasActiveAdmin(now = new Date()): Promise<boolean> {
    const count = await prisma.apiKey.count({
      where: { revokedAt: null, scopes: { has: "admin" }, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    });
    return count > 0;
  }

  return {
    /** Makes a key; the result holds the key itself, which is never stored or shown again. */
    async create(input: CreateApiKeyInput, now = new Date()): Promise<{ key: string; apiKey: ApiKeyRecord }> {
      const parsed = parseInput(createInput, input);
      if (parsed.expiresAt && parsed.expiresAt.getTime() <= now.getTime()) {
        throw new ValidationError([{ path: ["expiresAt"], message: "must be in the future" }]);
      }
      const key = generateKey();
      return { key, apiKey: await insert(key, parsed) };
    },

    /** Every key, newest first; revoked ones only when asked for. */
    async list(options: { includeRevoked?: boolean } = {}): Promise<ApiKeyRecord[]> {
      const rows = await prisma.apiKey.findMany({ where: options.includeRevoked ? {} : { revokedAt: null }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
      return rows.map(record);
    },

    /**
     * Revokes the key with this id or prefix (a prefix must name one key). Revoking a revoked key
     * changes nothing. Every cached verdict of this process is dropped at once.
     */
    async revoke(idOrPrefix: string): Promise<ApiKeyRecord> {
      const found = await find(idOrPrefix);
      const row = found.revokedAt ? found : await prisma.apiKey.update({ where: { id: found.id }, data: { revokedAt: new Date() } });
      cache.clear();
      return record(row);
    },

    /** What a presented key is worth: cached for KEY_CACHE_MS, expiry checked on every call. */
    async verify(key: string): Promise<KeyVerdict> {
      if (!looksLikeKey(key)) return { status: "malformed" };
      const found = await lookup(hashKey(key));
      if (!found) return { status: "unknown" };
      const status = statusOf(found);
      if (status === "active") touch(found);
      return { status, key: found };
    },

    /** Whether a key with the admin scope is usable now (not revoked, not expired). */
    hasActiveAdmin,

    /**
     * TRACEDECK_BOOTSTRAP_KEY: stored as an admin key named "bootstrap" when no admin key is usable.
     * Says what it did; the key itself is never logged.
     */
    async bootstrap(key: string): Promise<"created" | "admin_exists" | "already_stored"> {
      if (!looksLikeKey(key)) throw new ValidationError([{ path: ["TRACEDECK_BOOTSTRAP_KEY"], message: "must be td_ followed by 43 to 128 base64url characters" }]);
      if (await prisma.apiKey.findUnique({ where: { hash: hashKey(key) } })) return "already_stored";
      if (await hasActiveAdmin()) return "admin_exists";
      await insert(key, { name: "bootstrap", scopes: ["admin"] });
      return "created";
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
