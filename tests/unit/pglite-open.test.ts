// The embedded database's opening (server/db/pglite-open.ts): initdb in a child process into a
// scratch folder renamed into place, and the memory settings applied to new and existing folders.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { afterEach, expect, test } from "vitest";
import { createPgliteDataDir, openPgliteDataDir, PGLITE_SETTINGS, pgliteStartParams } from "../../server/db/pglite-open.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tracedeck-pglite-open-"));
  dirs.push(dir);
  return dir;
}

test("the start parameters are PGlite's own plus the documented settings", () => {
  const params = pgliteStartParams();
  expect(params.slice(0, PGlite.defaultStartParams.length)).toEqual(PGlite.defaultStartParams);
  expect(params).toContain(`shared_buffers=${PGLITE_SETTINGS.shared_buffers}`);
  // Durability is PGlite's: nothing here relaxes it further.
  expect(params.join(" ")).not.toMatch(/synchronous_commit|full_page_writes|wal_level=minimal/);
});

test("a new folder is created by initdb in a child process, then opened with the settings; a reopen runs no initdb", async () => {
  const parent = tempDir();
  const folder = join(parent, "pglite");
  // A leftover of an interrupted first start is removed.
  mkdirSync(join(parent, "pglite.initdb-999999"));
  writeFileSync(join(parent, "pglite.initdb-999999", "half"), "x");

  const db = await openPgliteDataDir(folder);
  try {
    expect(existsSync(join(folder, "PG_VERSION"))).toBe(true);
    expect(readdirSync(parent).sort()).toEqual(["pglite"]);
    const [row] = (await db.query<{ shared_buffers: string }>("SHOW shared_buffers")).rows;
    expect(row!.shared_buffers).toBe(PGLITE_SETTINGS.shared_buffers);
    await db.exec("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)");
  } finally {
    await db.close();
  }

  expect(await createPgliteDataDir(folder)).toBe(false);
  const again = await openPgliteDataDir(folder);
  try {
    expect((await again.query<{ n: number }>("SELECT n FROM kept")).rows).toEqual([{ n: 42 }]);
    // A folder made before the settings existed (initdb wrote 128MB into postgresql.conf) gets them too.
    expect((await again.query<{ shared_buffers: string }>("SHOW shared_buffers")).rows[0]!.shared_buffers).toBe(PGLITE_SETTINGS.shared_buffers);
  } finally {
    await again.close();
  }
}, 120_000);

test("an empty folder is initialised; a non-empty one without PG_VERSION is left to PGlite", async () => {
  const parent = tempDir();
  const empty = join(parent, "empty");
  mkdirSync(empty);
  expect(await createPgliteDataDir(empty)).toBe(true);
  expect(existsSync(join(empty, "PG_VERSION"))).toBe(true);

  const other = join(parent, "other");
  mkdirSync(other);
  writeFileSync(join(other, "notes.txt"), "not a database");
  expect(await createPgliteDataDir(other)).toBe(false);
  expect(readdirSync(other)).toEqual(["notes.txt"]);
}, 120_000);
