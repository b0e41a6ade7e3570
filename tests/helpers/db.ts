import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { inject } from "vitest";
import { type Database, openDatabase } from "../../server/db/client.js";
import { databaseUrl } from "./postgres.js";

export type Backend = "pglite" | "postgresql";

export function testBackend(): Backend {
  const backend = process.env.TEST_BACKEND;
  if (backend !== "pglite" && backend !== "postgresql") throw new Error(`TEST_BACKEND must be pglite or postgresql, not ${backend}`);
  return backend;
}

export interface TestDatabase extends Database {
  /** The connection string (postgresql) or data folder (pglite) of this database. */
  location: string;
  /** Closes and removes the database. */
  destroy(): Promise<void>;
}

/** A fresh, migrated database of the project's backend, copied from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (testBackend() === "pglite") {
    const dir = mkdtempSync(join(tmpdir(), "tracedeck-test-"));
    cpSync(inject("pgliteTemplateDir"), dir, { recursive: true });
    const db = await openDatabase({ dataDir: dir });
    return {
      ...db,
      location: dir,
      async destroy() {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const { adminUrl, templateName } = inject("postgresTemplate");
  const name = `${templateName}_t${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${templateName}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(name);
  const db = await openDatabase({ databaseUrl: url, dataDir: "" });
  return {
    ...db,
    location: url,
    async destroy() {
      await db.close();
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

/** An empty database (no migrations applied) on the PostgreSQL server; for migration tests. */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const { adminUrl } = inject("postgresTemplate");
  const name = `${inject("postgresTemplate").templateName}_t${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: databaseUrl(name),
    async drop() {
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}
