// GET /healthz over real HTTP, on a migrated test database of the project's backend.
import { rmSync } from "node:fs";
import pg from "pg";
import { afterEach, expect, test } from "vitest";
import { type App, buildApp } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import { checksumOf, type MigrationFile, readMigrations } from "../../server/db/migrate.js";
import { silentLogger } from "../../server/logger.js";
import { createTestDatabase, type TestDatabase, testBackend } from "../helpers/db.js";
import { adminUrl } from "../helpers/postgres.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function testDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(async () => {
    await db.destroy().catch(() => {});
    if (db.kind === "pglite") rmSync(db.location, { recursive: true, force: true });
  });
  return db;
}

async function startApp(db: TestDatabase, migrationFiles?: MigrationFile[]): Promise<{ app: App; url: string }> {
  const app = buildApp({ config: loadConfig({ LOG_LEVEL: "silent" }), db, log: silentLogger, migrationFiles });
  const url = await app.start(0);
  cleanups.push(() => app.stop());
  return { app, url };
}

interface HealthResponse {
  status: number;
  contentType: string | null;
  text: string;
  body: unknown;
}

async function getHealth(url: string): Promise<HealthResponse> {
  const response = await fetch(`${url}/healthz`);
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get("content-type"), text, body: JSON.parse(text) };
}

/** The body never shows where the database is. */
function expectNoConnectionString(text: string, db: TestDatabase) {
  expect(text).not.toContain("postgres://");
  expect(text).not.toContain("postgresql://");
  expect(text).not.toContain(db.location);
  if (db.kind === "postgresql") expect(text).not.toContain(new URL(db.location).pathname.slice(1)); // the database name
}

const migrations = readMigrations();
const extra: MigrationFile = {
  name: "99990101000000_not_yet_applied",
  sql: `CREATE TABLE "probe_health" ("id" INTEGER);`,
  checksum: checksumOf(Buffer.from(`CREATE TABLE "probe_health" ("id" INTEGER);`)),
};

test("a migrated database: 200 with the status, the database kind and the migrations", async () => {
  const db = await testDatabase();
  const { url } = await startApp(db);
  const health = await getHealth(url);
  expect(health.status).toBe(200);
  expect(health.contentType).toMatch(/^application\/json/);
  expect(health.body).toEqual({
    status: "ok",
    database: { kind: testBackend(), ok: true },
    migrations: { applied: migrations.length, pending: 0, latest: migrations.at(-1)!.name },
  });
  expectNoConnectionString(health.text, db);
});

test("a pending migration: 503 with pending 1, the database still ok", async () => {
  const db = await testDatabase();
  const { url } = await startApp(db, [...migrations, extra]);
  const health = await getHealth(url);
  expect(health.status).toBe(503);
  expect(health.body).toEqual({
    status: "unavailable",
    database: { kind: testBackend(), ok: true },
    migrations: { applied: migrations.length, pending: 1, latest: migrations.at(-1)!.name },
  });
  expectNoConnectionString(health.text, db);
});

test("an unreachable database: 503 with database.ok false, and no connection string", async () => {
  const db = await testDatabase();
  const { url } = await startApp(db);
  expect((await getHealth(url)).status).toBe(200);

  if (db.kind === "postgresql") {
    // The database goes away under the running server: its connections are terminated and it is dropped.
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE ${new URL(db.location).pathname.slice(1)} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  } else {
    await db.close();
  }

  // Twice: the first failure must not leave the check broken or hanging.
  for (let i = 0; i < 2; i++) {
    const health = await getHealth(url);
    expect(health.status).toBe(503);
    expect(health.body).toEqual({ status: "unavailable", database: { kind: testBackend(), ok: false }, migrations: null });
    expectNoConnectionString(health.text, db);
  }
});

test("HEAD /healthz answers with the status and no body; other paths are 404", async () => {
  const db = await testDatabase();
  const { url } = await startApp(db);
  const head = await fetch(`${url}/healthz`, { method: "HEAD" });
  expect(head.status).toBe(200);
  expect(await head.text()).toBe("");
  expect((await fetch(`${url}/healthz?verbose=1`)).status).toBe(200);
  expect((await fetch(`${url}/nothing-here`)).status).toBe(404);
});
