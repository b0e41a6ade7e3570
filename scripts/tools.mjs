// Shared by scripts/ensure-dashboard.mjs, build-server.mjs and dev.mjs: the repository root, the
// local binaries they run with this Node (no npx, no shell), the newest source file and a build lock.
import { closeSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));

/** The JavaScript file behind a package's bin, or undefined when the package is not installed. */
export function binOf(pkg, name) {
  try {
    const manifest = require.resolve(`${pkg}/package.json`);
    const { bin } = JSON.parse(readFileSync(manifest, "utf8"));
    const file = typeof bin === "string" ? bin : bin?.[name];
    return file ? join(dirname(manifest), file) : undefined;
  } catch {
    return undefined;
  }
}

export const viteBin = () => binOf("vite", "vite");
export const codegenBin = () => binOf("@graphql-codegen/cli", "graphql-codegen");

/**
 * The newest file (by mtime, ms) under the given paths from the root, skipping `ignored` folders;
 * with `folders`, folders count too (a deleted file changes its folder's mtime).
 */
export function newestFile(paths, { ignored = new Set(), folders = false } = {}) {
  let newest = { mtime: 0, file: "" };
  const visit = (path) => {
    if (ignored.has(path)) return;
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return;
    }
    const isFolder = stat.isDirectory();
    if ((!isFolder || folders) && stat.mtimeMs > newest.mtime) newest = { mtime: stat.mtimeMs, file: path };
    if (isFolder) for (const entry of readdirSync(path)) visit(join(path, entry));
  };
  for (const path of paths) visit(join(root, path));
  return newest;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
};

/**
 * Takes a build lock (a file holding the owner's pid), waiting for another process's build and
 * taking over the lock of one that died; false when it could not within five minutes.
 */
export async function takeBuildLock(lockFile, pollMs = 100) {
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    try {
      const fd = openSync(lockFile, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(lockFile, "utf8").trim() || "0");
    } catch {
      continue; // released meanwhile
    }
    if (owner && !alive(owner)) {
      rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
