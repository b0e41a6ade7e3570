#!/usr/bin/env node
// `npm run dev`: the server in watch mode (restarts on server/ changes) and the Vite dev server with
// hot reload, which proxies /graphql (HTTP and WebSocket), /healthz and /graphiql-assets to it.
// graphql() documents are regenerated (codegen) whenever web/src or schema.graphql changes.
// Ctrl-C (or SIGTERM) stops both, once each; if either exits, the other is stopped too.
//
//   PORT               the server's port (default 4000)
//   TRACEDECK_DEV_PORT the dashboard's dev port (default 5173)
import { spawn, spawnSync } from "node:child_process";
import { watch } from "node:fs";
import { join } from "node:path";
import { codegenBin, root, viteBin } from "./tools.mjs";

const port = process.env.PORT && process.env.PORT !== "0" ? process.env.PORT : "4000";
const devPort = process.env.TRACEDECK_DEV_PORT ?? "5173";
const say = (message) => process.stderr.write(`[dev] ${message}\n`);

const codegen = codegenBin();
const vite = viteBin();
if (!codegen || !vite) {
  say("the dashboard's dev dependencies are missing: run `npm install`");
  process.exit(1);
}
/** Quiet when it works; on failure, once more with its full report. */
const runCodegen = () =>
  [["--silent"], []].some((flags) => spawnSync(process.execPath, [codegen, "--config", "codegen.ts", ...flags], { cwd: root, stdio: "inherit" }).status === 0);
if (!runCodegen()) say("codegen failed; fix the document above (it reruns on save)");

/** Children get their own process group: a terminal's Ctrl-C reaches this script only, which signals each child once. */
const children = new Map();
function start(name, args, env) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit", detached: true, env: { ...process.env, ...env } });
  children.set(name, child);
  child.on("exit", (code, signal) => {
    children.delete(name);
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); stopping the rest`);
      stop(code ?? 1);
    } else if (children.size === 0) process.exit(exitCode);
  });
  return child;
}

let stopping = false;
let exitCode = 0;
let forceTimer;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  if (children.size === 0) process.exit(exitCode);
  for (const child of children.values()) {
    try {
      process.kill(child.pid, "SIGINT");
    } catch {
      // already gone
    }
  }
  // The server lets requests finish within SHUTDOWN_GRACE_SECONDS (10 s by default).
  forceTimer = setTimeout(() => {
    for (const child of children.values()) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, 20_000);
  forceTimer.unref();
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
process.on("SIGHUP", () => stop(0));
// Last resort: never leave a child behind when this script goes.
process.on("exit", () => {
  for (const child of children.values()) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

start("server", ["--import", "tsx", "--watch", "server/index.ts"], { PORT: port });
start("vite", [vite, "--config", "web/vite.config.ts", "--port", devPort, "--strictPort"], { TRACEDECK_DEV_API: `http://127.0.0.1:${port}` });
say(`dashboard with hot reload on http://127.0.0.1:${devPort} (API on http://127.0.0.1:${port}); Ctrl-C stops both`);

// Regenerate typed documents on change (web/src/gql is the output: ignored).
let codegenTimer;
const onChange = (file) => {
  if (stopping || (file && String(file).replaceAll("\\", "/").startsWith("gql/"))) return;
  clearTimeout(codegenTimer);
  codegenTimer = setTimeout(() => runCodegen() || say("codegen failed"), 300);
};
try {
  watch(join(root, "web", "src"), { recursive: true }, (_event, file) => onChange(file));
  watch(join(root, "schema.graphql"), () => onChange("schema.graphql"));
} catch (error) {
  say(`cannot watch web/src for codegen (${error.message}); run \`npm run codegen\` after editing documents`);
}
