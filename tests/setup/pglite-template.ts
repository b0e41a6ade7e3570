// Creates one migrated PGlite data folder per run; each test database is a copy of it
// (initdb takes seconds, a copy tens of milliseconds).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../../server/db/client.js";
import { migrate } from "../../server/db/migrate.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplateDir: string;
    postgresTemplate: { adminUrl: string; templateName: string };
  }
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "tracedeck-template-"));
  const db = await openDatabase({ dataDir: dir });
  const conn = await db.openSqlConnection();
  await migrate(conn);
  await db.close();
  project.provide("pgliteTemplateDir", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
