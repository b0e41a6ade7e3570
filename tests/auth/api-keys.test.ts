// API keys at rest and in the service: only the SHA-256 is stored, bad input writes nothing,
// revoke and expiry, the bootstrap key, and the verification cache (no database round trip per
// request; a revoke here is seen at once, one made elsewhere within KEY_CACHE_MS).
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defaultLimits } from "../../server/config.js";
import { ConflictError, NotFoundError, ValidationError } from "../../server/errors.js";
import { createEventBus } from "../../server/events/pubsub.js";
import { silentLogger } from "../../server/logger.js";
import { createApiKeyService, KEY_CACHE_MS } from "../../server/services/api-keys.js";
import { schema } from "../../server/schema/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { postJson } from "../helpers/raw-http.js";
import { bearer } from "./auth-helpers.js";

let db: TestDatabase;
let t: TestApp;
beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { env: { AUTH: "on" } });
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

const keys = () => t.app.services.apiKeys;
/** A second service on the same database: what another server process (or the CLI) would be. */
const elsewhere = () => createApiKeyService({ prisma: db.prisma, bus: createEventBus(), limits: defaultLimits, log: silentLogger });
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("at rest", () => {
  test("the table holds the key's SHA-256 and its prefix, never the key or its secret part", async () => {
    const { key, apiKey } = await keys().create({ name: "at rest", scopes: ["read", "ingest"] });
    expect(key).toMatch(/^td_[A-Za-z0-9_-]{43}$/);
    const rows = await db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(`SELECT * FROM api_keys WHERE id = $1::uuid`, apiKey.id);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.hash).toBe(sha256(key));
    expect(row.prefix).toBe(key.slice(0, 11));
    expect(row.scopes).toEqual(["ingest", "read"]);
    const stored = JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice(11));
    expect(stored).not.toContain(key.slice(11, 30));
  });

  test("the GraphQL type never exposes the hash; createApiKey answers the key once, apiKeys never", async () => {
    expect(Object.keys((schema.getType("ApiKey") as unknown as { getFields(): object }).getFields())).not.toContain("hash");
    const admin = (await keys().create({ name: "admin", scopes: ["admin"] })).key;
    const created = await postJson(
      t.graphqlUrl,
      { query: `mutation { createApiKey(input: { name: "ci", scopes: [read, ingest] }) { ... on CreatedApiKey { key apiKey { prefix scopes status } } } }` },
      bearer(admin),
    );
    const { key, apiKey } = created.json.data.createApiKey;
    expect(apiKey).toEqual({ prefix: key.slice(0, 11), scopes: ["ingest", "read"], status: "active" });
    const listed = await postJson(t.graphqlUrl, { query: `{ apiKeys { name prefix scopes status lastUsedAt } }` }, bearer(admin));
    expect(listed.text).not.toContain(key);
    expect(listed.json.data.apiKeys).toContainEqual({ name: "ci", prefix: key.slice(0, 11), scopes: ["ingest", "read"], status: "active", lastUsedAt: null });
  });
});

describe("bad input writes nothing", () => {
  test.each([
    [{ name: "", scopes: ["read"] }, "name"],
    [{ name: "x", scopes: [] }, "scopes"],
    [{ name: "x", scopes: ["read", "root"] }, "scopes"],
    [{ name: "x", scopes: ["read"], expiresAt: new Date(Date.now() - 1000) }, "expiresAt"],
    [{ name: "x".repeat(101), scopes: ["read"] }, "name"],
  ])("%j", async (input, field) => {
    const before = await db.prisma.apiKey.count();
    const error = await keys().create(input as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]!.path[0]).toBe(field);
    expect(await db.prisma.apiKey.count()).toBe(before);
  });

  test("over GraphQL: a typed ValidationError", async () => {
    const admin = (await keys().create({ name: "admin 2", scopes: ["admin"] })).key;
    const response = await postJson(
      t.graphqlUrl,
      { query: `mutation { createApiKey(input: { name: " ", scopes: [read] }) { __typename ... on ValidationError { issues { path message } } } }` },
      bearer(admin),
    );
    expect(response.json.data.createApiKey).toEqual({ __typename: "ValidationError", issues: [{ path: ["name"], message: "must not be empty" }] });
  });
});

describe("revoke", () => {
  test("by prefix, by id or by the key itself; a second revoke changes nothing; unknown and ambiguous are typed errors", async () => {
    const a = await keys().create({ name: "a", scopes: ["read"] });
    const b = await keys().create({ name: "b", scopes: ["read"] });
    const c = await keys().create({ name: "c", scopes: ["read"] });
    const byPrefix = await keys().revoke(a.apiKey.prefix);
    expect(byPrefix.id).toBe(a.apiKey.id);
    expect(byPrefix.revokedAt).toBeInstanceOf(Date);
    expect((await keys().revoke(b.apiKey.id)).id).toBe(b.apiKey.id);
    expect((await keys().revoke(c.key)).id).toBe(c.apiKey.id);
    const again = await keys().revoke(a.apiKey.id);
    expect(again.revokedAt).toEqual(byPrefix.revokedAt);
    await expect(keys().revoke("td_nothere")).rejects.toBeInstanceOf(NotFoundError);
    await expect(keys().revoke("td_")).rejects.toBeInstanceOf(ConflictError);
    expect((await keys().list()).map((k) => k.id)).not.toContain(a.apiKey.id);
    expect((await keys().list({ includeRevoked: true })).map((k) => k.id)).toContain(a.apiKey.id);
    for (const key of [a.key, b.key, c.key]) {
      const response = await postJson(t.graphqlUrl, { query: "{ __typename }" }, bearer(key));
      expect(response.status).toBe(401);
      expect(response.json.errors[0].message).toMatch(/was revoked at/);
    }
  });
});

test("an expired key is refused (401, saying so); until then it works", async () => {
  const { key } = await keys().create({ name: "short", scopes: ["read"], expiresAt: new Date(Date.now() + 1_500) });
  expect((await postJson(t.graphqlUrl, { query: "{ __typename }" }, bearer(key))).status).toBe(200);
  await new Promise((r) => setTimeout(r, 1_600));
  const refused = await postJson(t.graphqlUrl, { query: "{ __typename }" }, bearer(key));
  expect(refused.status).toBe(401);
  expect(refused.json.errors[0].message).toMatch(/expired at/);
  // A key stored with a past expiry (another process, a clock) is refused the same way.
  const stale = await keys().create({ name: "stale", scopes: ["admin"] });
  await db.prisma.apiKey.update({ where: { id: stale.apiKey.id }, data: { expiresAt: new Date(Date.now() - 60_000) } });
  const fresh = elsewhere();
  expect((await fresh.verify(stale.key)).status).toBe("expired");
});

describe("verification cache", () => {
  test("a thousand verifications of one key read the database once", async () => {
    let lookups = 0;
    const delegate = db.prisma.apiKey;
    const counted = new Proxy(db.prisma, {
      get(target, prop) {
        if (prop !== "apiKey") return Reflect.get(target, prop);
        return new Proxy(delegate, {
          get(d, p) {
            const value = Reflect.get(d, p);
            if (p !== "findUnique") return typeof value === "function" ? value.bind(d) : value;
            return (...args: unknown[]) => {
              lookups++;
              return (value as (...a: unknown[]) => unknown).apply(d, args);
            };
          },
        });
      },
    });
    const service = createApiKeyService({ prisma: counted, bus: createEventBus(), limits: defaultLimits, log: silentLogger });
    const { key } = await keys().create({ name: "hot", scopes: ["ingest"] });
    for (let i = 0; i < 1000; i++) expect((await service.verify(key)).status).toBe("active");
    expect(lookups).toBe(1);
    // Unknown keys are remembered too: a client retrying a stale key does not hit the database each time.
    for (let i = 0; i < 100; i++) expect((await service.verify(`td_${"Q".repeat(43)}`)).status).toBe("unknown");
    expect(lookups).toBe(2);
    // Malformed ones never reach it.
    expect((await service.verify("Bearer nonsense")).status).toBe("malformed");
    expect(lookups).toBe(2);
  });

  test(`a revoke in this process counts at once; one made elsewhere within KEY_CACHE_MS (${KEY_CACHE_MS} ms)`, async () => {
    const here = keys();
    const local = await here.create({ name: "local", scopes: ["read"] });
    expect((await here.verify(local.key)).status).toBe("active");
    await here.revoke(local.apiKey.id);
    expect((await here.verify(local.key)).status).toBe("revoked");

    const remote = await here.create({ name: "remote", scopes: ["read"] });
    expect((await here.verify(remote.key)).status).toBe("active");
    await elsewhere().revoke(remote.apiKey.id);
    const revokedAt = Date.now();
    // Still cached here...
    expect((await here.verify(remote.key)).status).toBe("active");
    // ...but no longer than the bound.
    while ((await here.verify(remote.key)).status === "active") {
      expect(Date.now() - revokedAt).toBeLessThanOrEqual(KEY_CACHE_MS + 500);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await here.verify(remote.key)).status).toBe("revoked");
  });

  test("last_used_at is set on use, and not rewritten on every request", async () => {
    const { key, apiKey } = await keys().create({ name: "used", scopes: ["read"] });
    expect(apiKey.lastUsedAt).toBeNull();
    await postJson(t.graphqlUrl, { query: "{ __typename }" }, bearer(key));
    let first: Date | null = null;
    for (let i = 0; i < 50 && !first; i++) {
      first = (await db.prisma.apiKey.findUnique({ where: { id: apiKey.id } }))!.lastUsedAt;
      if (!first) await new Promise((r) => setTimeout(r, 50));
    }
    expect(first).toBeInstanceOf(Date);
    await postJson(t.graphqlUrl, { query: "{ __typename }" }, bearer(key));
    await new Promise((r) => setTimeout(r, 200));
    expect((await db.prisma.apiKey.findUnique({ where: { id: apiKey.id } }))!.lastUsedAt).toEqual(first);
  });
});

describe("bootstrap key", () => {
  test("stored as an admin key named bootstrap when no admin key exists, once; ignored when one does", async () => {
    const fresh = await createTestDatabase();
    try {
      const service = createApiKeyService({ prisma: fresh.prisma, bus: createEventBus(), limits: defaultLimits, log: silentLogger });
      const bootstrap = `td_${"b".repeat(43)}`;
      expect(await service.bootstrap(bootstrap)).toBe("created");
      const [stored] = await service.list();
      expect(stored).toMatchObject({ name: "bootstrap", scopes: ["admin"], prefix: bootstrap.slice(0, 11) });
      expect((await service.verify(bootstrap)).status).toBe("active");
      expect(await service.bootstrap(bootstrap)).toBe("already_stored");
      expect(await service.bootstrap(`td_${"c".repeat(43)}`)).toBe("admin_exists");
      expect(await fresh.prisma.apiKey.count()).toBe(1);
      await expect(service.bootstrap("short")).rejects.toBeInstanceOf(ValidationError);
    } finally {
      await fresh.destroy();
    }
  });
});
