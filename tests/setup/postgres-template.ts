// Creates one migrated template database on the PostgreSQL server for this run; each test database
// is CREATE DATABASE ... TEMPLATE it, and everything is dropped at the end. A missing server fails
// the run: it is never skipped.
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../../server/db/client.js";
import { migrate } from "../../server/db/migrate.js";
import { adminUrl, databaseUrl } from "../helpers/postgres.js";

export default async function setup(project: TestProject) {
  const admin = new pg.Client({ connectionString: adminUrl() });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`The postgres test project needs PostgreSQL at ${adminUrl()} (set TEST_PG_URL): ${(error as Error).message}`);
  }
  const templateName = `tracedeck_tpl_${process.pid}_${randomBytes(3).toString("hex")}`;
  await admin.query(`CREATE DATABASE ${templateName}`);
  const db = await openDatabase({ databaseUrl: databaseUrl(templateName), dataDir: "" });
  const conn = await db.openSqlConnection();
  await migrate(conn);
  await conn.close();
  await db.close();
  project.provide("postgresTemplate", { adminUrl: adminUrl(), templateName });
  return async () => {
    // Drop the template and any test database this run left behind.
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`,
      [templateName, `${templateName}_t%`],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await admin.end();
  };
}
