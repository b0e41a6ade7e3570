// Opening the embedded database (PGlite) with its memory kept small.
//
// Where the memory of `npm start` on PGlite went (resident, measured on Node 20, PGlite 0.5.14):
// - initdb in the server's own process: a new data folder left ~800 MB resident, because initdb runs
//   a second PostgreSQL in WebAssembly and linear memory is never given back. It now runs in a
//   short-lived child process (pglite-initdb.mjs); the server opens the finished folder.
// - shared_buffers: initdb writes 128MB into postgresql.conf, and the whole pool was resident from
//   the start (reopening a folder: ~310 MB with 128MB, ~240 with 64MB, ~190 with 32MB, ~165 with 16MB).
// - the rest of an idle PGlite is the compiled WebAssembly code, the file-system bundle and Node
//   itself; tsx at run time added ~70–100 MB more (npm start now runs the compiled server).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { fromProjectRoot } from "../project-root.js";

/**
 * PostgreSQL settings of the embedded database, passed as `-c name=value` at every start (so they
 * apply to folders created before them too; a start parameter wins over postgresql.conf).
 *
 * Durability is unchanged: PGlite's own start parameters (kept, see pgliteStartParams) already run
 * PostgreSQL with fsync off on its NodeFS, which writes straight to the data folder's files. A commit
 * has reached the operating system when the caller is answered, so it survives the process being
 * killed; not an operating-system crash or power loss (as before). relaxedDurability (answering
 * before the write) and an in-memory file system with a later dump are not used.
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = {
  // PostgreSQL's own page cache. Inside WebAssembly it is part of linear memory, resident from the
  // start and never returned. 32MB holds the hot pages (indexes, the latest traces and events);
  // other pages are read from the operating system's page cache through NodeFS, a copy rather than
  // a disk read on a warm machine. 128MB (initdb's default) cost ~120 MB more at idle.
  shared_buffers: "32MB",
};

/** PGlite's default start parameters (single-user mode, no parallel workers, ...) plus PGLITE_SETTINGS. */
export function pgliteStartParams(settings: Readonly<Record<string, string>> = PGLITE_SETTINGS): string[] {
  return [...PGlite.defaultStartParams, ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`])];
}

/**
 * Opens (creating it first if needed) the PGlite data folder. The caller must hold the data
 * folder's lock (lockDataDir): the initdb below assumes no other process works in its parent.
 */
export async function openPgliteDataDir(folder: string): Promise<PGlite> {
  await createPgliteDataDir(folder);
  return PGlite.create(folder, { startParams: pgliteStartParams() });
}

/** Slow disks and a busy CI machine: initdb takes 2–3 s on an idle one. */
const INITDB_TIMEOUT_MS = 120_000;
const INITDB_SCRIPT = fromProjectRoot("server", "db", "pglite-initdb.mjs");

/**
 * Creates a new data folder with initdb in a child process, when `folder` does not exist or is
 * empty; true if it did. The child writes to `<folder>.initdb-<pid>`, renamed into place once
 * complete, so an interrupted first start leaves no half-made database (the next start removes
 * the leftover). A folder with other content and no PG_VERSION is left to PGlite, as before.
 */
export async function createPgliteDataDir(folder: string): Promise<boolean> {
  if (existsSync(join(folder, "PG_VERSION"))) return false;
  if (existsSync(folder) && readdirSync(folder).length > 0) return false;
  const parent = dirname(folder);
  const name = basename(folder);
  mkdirSync(parent, { recursive: true });
  for (const entry of readdirSync(parent)) {
    if (entry.startsWith(`${name}.initdb-`)) rmSync(join(parent, entry), { recursive: true, force: true });
  }
  const scratch = join(parent, `${name}.initdb-${process.pid}`);
  try {
    await runInitdb(scratch);
    if (existsSync(folder)) rmdirSync(folder); // empty (checked above)
    renameSync(scratch, folder);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return true;
}

function runInitdb(folder: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // No loader or inspector flags of this process: the script is plain JavaScript.
    const child = spawn(process.execPath, [INITDB_SCRIPT, folder], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4_000)));
    // The child never outlives the server (a stop during the first start exits the process).
    const kill = () => child.kill("SIGKILL");
    process.once("exit", kill);
    const timer = setTimeout(kill, INITDB_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      process.removeListener("exit", kill);
    };
    child.once("error", (error) => {
      done();
      reject(new Error(`could not run initdb for the embedded database in ${folder}: ${error.message}`));
    });
    child.once("close", (code, signal) => {
      done();
      if (code === 0) return resolve();
      const how = signal ? `killed by ${signal}${signal === "SIGKILL" ? ` (timeout ${INITDB_TIMEOUT_MS / 1000} s?)` : ""}` : `exit code ${code}`;
      reject(new Error(`initdb of the embedded database in ${folder} failed (${how}): ${stderr.trim() || "no output"}`));
    });
  });
}
