#!/usr/bin/env node
// Compiles the server (server/**/*.ts) to JavaScript in dist/server with tsc and tsconfig.build.json,
// so that `npm start` runs `node dist/server/index.js` (no tsx at run time).
//
//   node scripts/build-server.mjs             build (npm run build:server, npm install's postinstall)
//   node scripts/build-server.mjs --if-stale  build only when dist/server is missing or older than its
//                                             sources (npm start: an edit, a pull or a new Prisma client
//                                             is picked up without a separate step; otherwise ~50 ms)
//   node scripts/build-server.mjs --check     exit 1 when a build is needed, build nothing
//
// tsc writes to a temporary folder that replaces dist/server only when complete, under a lock, so a
// server starting meanwhile never loads half a build and two starts never build at once. Type errors
// do not stop the build (`npm run typecheck` reports them); a syntax error does, and leaves the
// previous build in place.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binOf, newestFile, root, takeBuildLock } from "./tools.mjs";

const distRoot = join(root, "dist");
const out = join(distRoot, "server");
const stampFile = join(out, ".build-stamp.json");
const lockFile = join(distRoot, ".build-server.lock");
/** Everything the build reads: a newer file or folder (a deleted file changes its folder) means a rebuild. */
const sources = ["server", "tsconfig.json", "tsconfig.build.json"];

const say = (message) => process.stderr.write(`[server build] ${message}\n`);

/** Why dist/server needs a build, or undefined when it is up to date. */
function staleness() {
  if (!existsSync(join(out, "index.js"))) return "dist/server is missing";
  let startedAt = 0;
  try {
    startedAt = JSON.parse(readFileSync(stampFile, "utf8")).startedAt;
  } catch {
    return "dist/server has no build stamp";
  }
  const newest = newestFile(sources, { folders: true });
  return newest.mtime > startedAt ? `${newest.file.slice(root.length + 1)} changed since the last build` : undefined;
}

/** Runs tsc into dist/.server-<pid>/server; an error message, or undefined when it built. */
function compile(tmp) {
  const tsc = binOf("typescript", "tsc");
  if (!tsc) return "TypeScript is not installed (dev dependencies omitted?): run `npm install`";
  const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", tmp], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.error) return `tsc could not run: ${result.error.message}`;
  if (result.signal) process.kill(process.pid, result.signal); // Ctrl-C during the build: stop here too
  if (result.status !== 0) return `tsc exited with ${result.status}`;
  if (!existsSync(join(tmp, "server", "index.js"))) return "tsc wrote no server/index.js";
  return undefined;
}

async function main() {
  const mode = process.argv.includes("--check") ? "check" : process.argv.includes("--if-stale") ? "if-stale" : "always";
  if (mode !== "always") {
    const reason = staleness();
    if (!reason) return;
    if (mode === "check") {
      say(`needs a build: ${reason}`);
      process.exitCode = 1;
      return;
    }
  }
  mkdirSync(distRoot, { recursive: true });
  if (!(await takeBuildLock(lockFile))) {
    say("another process has been building the server for 5 minutes; giving up");
    process.exitCode = 1;
    return;
  }
  const tmp = join(distRoot, `.server-${process.pid}`);
  try {
    // Another process may have built it while this one waited for the lock.
    if (mode === "if-stale" && !staleness()) return;
    const startedAt = Date.now();
    const failure = compile(tmp);
    if (failure) {
      say(`could not build the server: ${failure}`);
      process.exitCode = 1;
      return;
    }
    // Sources are compared with the moment the build started: an edit during the build rebuilds next time.
    writeFileSync(join(tmp, "server", ".build-stamp.json"), `${JSON.stringify({ startedAt })}\n`);
    const old = join(distRoot, `.server-old-${process.pid}`);
    if (existsSync(out)) renameSync(out, old);
    renameSync(join(tmp, "server"), out);
    rmSync(old, { recursive: true, force: true });
    say(`built dist/server in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(lockFile, { force: true });
  }
}

main().catch((error) => {
  say(`could not build the server: ${error.message}`);
  process.exitCode = 1;
});
