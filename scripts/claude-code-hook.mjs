#!/usr/bin/env node
// Claude Code command hook → Tracedeck. Reads the hook's JSON on stdin and POSTs it, as it is, to
// `${TRACEDECK_URL:-http://127.0.0.1:4000}/hooks/claude-code`. Plain Node, no dependencies, no tsx:
// it runs once per hook, so it has to start fast.
//
// Claude Code reads a command hook's exit code and stdout: exit code 2 blocks the action, and on
// SessionStart and UserPromptSubmit plain stdout is added to the model's context. So this command
// exits 0 and prints nothing on stdout, whatever happens (server down or slow, 4xx/5xx, bad
// stdin). With TRACEDECK_HOOK_DEBUG=1 it writes one line to stderr; for a hook that exits 0,
// Claude Code sends stderr to its debug log only (`claude --debug`).
//
// Use it in ~/.claude/settings.json or .claude/settings.json (SessionStart takes command hooks only;
// the other events can use this command too, or an `"type": "http"` hook on the same URL):
//
//   {
//     "hooks": {
//       "SessionStart":       [{ "hooks": [{ "type": "command", "command": "node /path/to/tracedeck/scripts/claude-code-hook.mjs", "timeout": 5 }] }],
//       "UserPromptSubmit":   [{ "hooks": [{ "type": "command", "command": "node /path/to/tracedeck/scripts/claude-code-hook.mjs", "timeout": 5 }] }],
//       "PreToolUse":         [{ "matcher": "*", "hooks": [{ "type": "command", "command": "node /path/to/tracedeck/scripts/claude-code-hook.mjs", "timeout": 5 }] }],
//       "PostToolUse":        [{ "matcher": "*", "hooks": [{ "type": "command", "command": "node /path/to/tracedeck/scripts/claude-code-hook.mjs", "timeout": 5 }] }],
//       "PostToolUseFailure": [{ "matcher": "*", "hooks": [{ "type": "command", "command": "node /path/to/tracedeck/scripts/claude-code-hook.mjs", "timeout": 5 }] }],
//       "Stop":               [{ "hooks": [{ "type": "command", "command": "node /path/to/tracedeck/scripts/claude-code-hook.mjs", "timeout": 5 }] }],
//       "SubagentStart":      [{ "hooks": [{ "type": "command", "command": "node /path/to/tracedeck/scripts/claude-code-hook.mjs", "timeout": 5 }] }],
//       "SubagentStop":       [{ "hooks": [{ "type": "command", "command": "node /path/to/tracedeck/scripts/claude-code-hook.mjs", "timeout": 5 }] }],
//       "SessionEnd":         [{ "hooks": [{ "type": "command", "command": "node /path/to/tracedeck/scripts/claude-code-hook.mjs", "timeout": 5 }] }]
//     }
//   }
//
// Use the absolute path of node if Claude Code's PATH may not have it. `"timeout"` is Claude Code's
// limit in seconds (the default is 600); 5 also raises SessionEnd's 1.5 s budget. The command's
// own limit is shorter (below), so it normally ends first. From a checkout, `npm run
// hook:claude-code` runs the same file (npm prints a banner on stdout, so use node in settings).
//
// Environment (Claude Code passes its own environment to command hooks):
//   TRACEDECK_URL               the server (default http://127.0.0.1:4000; a path prefix is kept)
//   TRACEDECK_API_KEY           an API key with the ingest scope, sent as `Authorization: Bearer <key>`
//                               when set (needed once the server requires keys: AUTH, or beyond loopback)
//   TRACEDECK_TOKEN             the same, under its earlier name (used when TRACEDECK_API_KEY is unset)
//   TRACEDECK_HOOK_TIMEOUT_MS   the whole run, stdin included, at most this long (default 2000)
//   TRACEDECK_HOOK_DEBUG=1      one line on stderr: what was sent and the answer, or why not
//
// Stdin is read up to 8 MiB (the server's default MAX_BODY_BYTES); a larger body is not sent.
// A body that is not JSON is not sent either (the server would refuse it with a 400).
import http from "node:http";

const started = performance.now();
const env = process.env;
const MAX_BYTES = 8 * 1024 * 1024;
const debug = env.TRACEDECK_HOOK_DEBUG === "1";
const timeoutMs = (() => {
  const n = Number(env.TRACEDECK_HOOK_TIMEOUT_MS);
  return Number.isFinite(n) && n > 0 ? n : 2000;
})();

let done = false;
/** Ends the run: exit 0 always, a note on stderr only when debugging. */
function finish(note) {
  if (done) return;
  done = true;
  if (debug && note) {
    try {
      process.stderr.write(`tracedeck hook: ${note} (${Math.round(performance.now() - started)} ms)\n`);
    } catch {
      // stderr closed: nothing to say it on
    }
  }
  process.exit(0);
}

process.on("uncaughtException", (error) => finish(`failed: ${error?.message ?? error}`));
process.on("unhandledRejection", (error) => finish(`failed: ${error?.message ?? error}`));
process.stdout.on("error", () => {}); // never written; a closed stdout must not matter either

const deadline = setTimeout(() => finish(`gave up after ${timeoutMs} ms`), timeoutMs);

function readStdin() {
  return new Promise((resolve) => {
    if (process.stdin.isTTY) return resolve({ skip: "stdin is a terminal, not a hook's JSON" });
    const chunks = [];
    let size = 0;
    process.stdin.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BYTES) {
        process.stdin.destroy();
        resolve({ skip: `stdin is over ${MAX_BYTES} bytes; not sent` });
        return;
      }
      chunks.push(chunk);
    });
    process.stdin.on("end", () => resolve({ body: Buffer.concat(chunks, size) }));
    process.stdin.on("error", (error) => resolve({ skip: `stdin failed: ${error.message}` }));
  });
}

function target() {
  const base = (env.TRACEDECK_URL?.trim() || "http://127.0.0.1:4000").replace(/\/+$/, "");
  try {
    const url = new URL(`${base}/hooks/claude-code`);
    return url.protocol === "http:" || url.protocol === "https:" ? url : undefined;
  } catch {
    return undefined;
  }
}

async function main() {
  const { body, skip } = await readStdin();
  if (skip) return finish(skip);
  const text = body.toString("utf8");
  if (text.trim() === "") return finish("stdin is empty; not sent");
  try {
    JSON.parse(text);
  } catch {
    return finish("stdin is not JSON; not sent");
  }
  const url = target();
  if (!url) return finish(`TRACEDECK_URL ${JSON.stringify(env.TRACEDECK_URL)} is not an http(s) URL; not sent`);

  const headers = { "content-type": "application/json", "content-length": String(body.length), connection: "close" };
  const token = env.TRACEDECK_API_KEY?.trim() || env.TRACEDECK_TOKEN?.trim();
  if (token) headers.authorization = `Bearer ${token}`;
  // https only when asked for: loading it costs start-up time.
  const client = url.protocol === "https:" ? await import("node:https") : http;
  const request = client.request(url, { method: "POST", headers, agent: false }, (response) => {
    const status = response.statusCode ?? 0;
    response.resume(); // the answer is not read: a 204 has none, an error's is for debugging only
    response.on("end", () => finish(`POST ${url.href} → ${status}`));
    response.on("error", (error) => finish(`POST ${url.href} → ${status}, then ${error.message}`));
  });
  request.on("error", (error) => finish(`POST ${url.href} failed: ${error.code ?? error.message}`));
  request.end(body);
}

main().catch((error) => finish(`failed: ${error?.message ?? error}`));
