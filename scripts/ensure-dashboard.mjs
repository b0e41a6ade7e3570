#!/usr/bin/env node
// Builds the dashboard (web/dist) when it is missing or older than its sources, so that
// `npm install && npm start` serves it at / with no separate step. A cheap mtime walk decides; the
// build (codegen, then vite build) goes to a temporary folder that replaces web/dist when complete,
// under a lock, so a running server never sees half a build and two starts never build at once.
//
// It never stops the server from starting: if the build cannot run (e.g. dev dependencies omitted)
// or fails, it says so and exits 0; the server then serves the previous build, or a 503 page that
// says to run `npm run build`.
//
//   node scripts/ensure-dashboard.mjs          build if stale
//   node scripts/ensure-dashboard.mjs --check  exit 1 if stale, build nothing
// Set TRACEDECK_SKIP_DASHBOARD_BUILD=1 to skip it; with DASHBOARD_DIR set, the folder is yours and it is left alone.
import { spawnSync } from "node:child_process";
import { constants, copyFileSync, existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { codegenBin, newestFile, root, takeBuildLock, viteBin } from "./tools.mjs";

const dist = join(root, "web", "dist");
const lockFile = join(root, "web", ".dashboard-build.lock");
const sources = ["web/src", "web/index.html", "web/public", "web/vite.config.ts", "schema.graphql", "codegen.ts"];
/** Generated from the other sources: never a reason to rebuild. */
const ignored = new Set([join(root, "web", "src", "gql")]);

const say = (message) => process.stderr.write(`[dashboard] ${message}\n`);

/** Why web/dist needs a build, or undefined when it is up to date. */
function staleness() {
  const index = join(dist, "index.html");
  if (!existsSync(index)) return "web/dist is missing";
  const built = statSync(index).mtimeMs;
  const newest = newestFile(sources, { ignored });
  return newest.mtime > built ? `${newest.file.slice(root.length + 1)} changed since the last build` : undefined;
}

/**
 * Pages opened before a rebuild still load their lazy chunks by the old content-hashed names: keep
 * the previous build's assets for a day (the names never collide), so they keep working.
 */
function keepRecentAssets(from, to) {
  if (!existsSync(from) || !existsSync(to)) return;
  const cutoff = Date.now() - 24 * 3600_000;
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    const target = join(to, name);
    try {
      const stat = statSync(source);
      if (stat.isFile() && stat.mtimeMs > cutoff && !existsSync(target)) copyFileSync(source, target, constants.COPYFILE_EXCL);
    } catch {
      // best effort
    }
  }
}

function run(label, bin, args) {
  if (!bin) return `${label} is not installed (dev dependencies omitted?)`;
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (result.error) return `${label} could not run: ${result.error.message}`;
  if (result.signal) process.kill(process.pid, result.signal); // Ctrl-C during the build: stop here too
  return result.status === 0 ? undefined : `${label} exited with ${result.status}`;
}

async function main() {
  if (process.env.TRACEDECK_SKIP_DASHBOARD_BUILD === "1") return;
  if (process.env.DASHBOARD_DIR && process.env.DASHBOARD_DIR.trim() !== "") return;
  const check = process.argv.includes("--check");
  const reason = staleness();
  if (!reason) return;
  if (check) {
    say(`needs a build: ${reason}`);
    process.exitCode = 1;
    return;
  }
  if (!(await takeBuildLock(lockFile, 200))) {
    say("another process has been building the dashboard for 5 minutes; starting without waiting");
    return;
  }
  const tmp = join(root, "web", `.dist-${process.pid}`);
  try {
    // Another process may have built it while this one waited for the lock.
    const still = staleness();
    if (!still) return;
    say(`building (${still})…`);
    const started = Date.now();
    const failure =
      // Quiet when it works; on failure, once more with its full report.
      (run("graphql-codegen", codegenBin(), ["--config", "codegen.ts", "--silent"]) &&
        run("graphql-codegen", codegenBin(), ["--config", "codegen.ts"])) ??
      run("vite", viteBin(), ["build", "--config", "web/vite.config.ts", "--outDir", tmp, "--logLevel", "warn"]);
    if (failure) {
      say(`could not build the dashboard: ${failure}. The API still starts; run \`npm run build\` to see why.`);
      return;
    }
    keepRecentAssets(join(dist, "assets"), join(tmp, "assets"));
    const old = join(root, "web", `.dist-old-${process.pid}`);
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(tmp, dist);
    rmSync(old, { recursive: true, force: true });
    say(`built web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(lockFile, { force: true });
  }
}

main().catch((error) => {
  say(`could not check the dashboard build: ${error.message}`);
});
