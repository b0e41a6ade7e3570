// scripts/claude-code-hook.mjs (the Claude Code command hook) as a real child process: the hook's
// JSON on stdin, POSTed to a real listening server. Claude Code reads a command hook's exit code
// (2 blocks) and, on SessionStart and UserPromptSubmit, its stdout (added to the model's context):
// so every case here wants exit 0 and an empty stdout, whatever the server did.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const command = fileURLToPath(new URL("../../scripts/claude-code-hook.mjs", import.meta.url));
const fixtures = new URL("../fixtures/claude-code/hooks/", import.meta.url);
/** Arrival, not speed: a child's start-up on a shared two-core machine. */
const RUN_LIMIT_MS = 30_000;
/** What a child may add to its own time limit: node's start-up and exit under load. */
const MARGIN_MS = 3_000;

/** A fixture hook body, with its own session id so that the tests' sessions do not meet. */
function fixture(name: string, sessionId: string): Record<string, unknown> {
  const text = readFileSync(new URL(`${name}.json`, fixtures), "utf8").replaceAll("{{projects}}", "/nonexistent/projects");
  return { ...(JSON.parse(text) as Record<string, unknown>), session_id: sessionId };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
}

function runHook(stdin: string | Buffer, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("TRACEDECK_")));
    const t0 = performance.now();
    const child = spawn(process.execPath, [command], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"], env: { ...inherited, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the hook command did not exit within ${RUN_LIMIT_MS} ms:\n${stdout}\n${stderr}`));
    }, RUN_LIMIT_MS);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
    child.stdin.on("error", () => {}); // the command stops reading an oversized body: EPIPE here
    child.stdin.end(stdin);
  });
}

/** Exit 0, nothing on stdout: what every run must end with. */
function expectSilentSuccess(run: Run): void {
  expect(run.signal).toBeNull();
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toBe("");
}

interface Captured {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A small HTTP server that records what arrives and answers `status` with `body`. */
async function captureServer(status = 204, body = ""): Promise<{ url: string; requests: Captured[]; close(): Promise<void> }> {
  const requests: Captured[] = [];
  const server: HttpServer = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(status, body ? { "content-type": "application/json" } : {});
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let db: TestDatabase;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

const counts = async () => ({ sessions: await db.prisma.ingestSession.count(), traces: await db.prisma.toolTrace.count(), chats: await db.prisma.chat.count() });

describe("against Tracedeck", () => {
  test("SessionStart, UserPromptSubmit, PreToolUse and PostToolUse from the fixtures: each exits 0 with nothing on stdout or stderr, and the call is recorded", async () => {
    expect(t.app.claudeCode).toBeDefined();
    const session = "0c0c0c0c-1111-4222-8333-444455556666";
    for (const name of ["01-session-start", "02-user-prompt-submit", "04-pre-tool-use-read", "05-post-tool-use-read"]) {
      const run = await runHook(JSON.stringify(fixture(name, session)), { TRACEDECK_URL: t.url });
      expectSilentSuccess(run);
      expect(run.stderr, name).toBe(""); // no TRACEDECK_HOOK_DEBUG: not a word
    }
    // The command waits for the answer, and the server answers once the hook is written.
    const ingest = await db.prisma.ingestSession.findUnique({ where: { source_externalId: { source: "claude-code", externalId: session } } });
    expect(ingest).not.toBeNull();
    expect(ingest!.openPrompt).toBe("Run the tests and tell me why one fails");
    const traces = await db.prisma.toolTrace.findMany({ where: { chatId: ingest!.chatId } });
    expect(traces).toHaveLength(1);
    expect(traces[0]).toMatchObject({ toolCallId: "toolu_01BBBBBBBBBBBBBBBBBBBBBBBB", toolName: "Read", status: "ok", latencyMs: 12 });
    expect(traces[0]!.toolOutput).toContain("return a - b;");
    const chat = await db.prisma.chat.findUnique({ where: { id: ingest!.chatId } });
    expect(chat!.title).toBe("Run the tests and tell me why one fails");
  });

  test("a PostToolUseFailure with a trailing slash on TRACEDECK_URL and debugging on: recorded, one line on stderr, still nothing on stdout", async () => {
    const session = "0c0c0c0c-2222-4222-8333-444455556666";
    const pre = await runHook(JSON.stringify(fixture("03-pre-tool-use-bash", session)), { TRACEDECK_URL: `${t.url}/` });
    expectSilentSuccess(pre);
    const failed = await runHook(JSON.stringify(fixture("06-post-tool-use-failure-bash", session)), { TRACEDECK_URL: `${t.url}/`, TRACEDECK_HOOK_DEBUG: "1" });
    expectSilentSuccess(failed);
    expect(failed.stderr).toMatch(/^tracedeck hook: POST http:\/\/127\.0\.0\.1:\d+\/hooks\/claude-code → 204 \(\d+ ms\)\n$/);
    const ingest = await db.prisma.ingestSession.findUniqueOrThrow({ where: { source_externalId: { source: "claude-code", externalId: session } } });
    const [trace] = await db.prisma.toolTrace.findMany({ where: { chatId: ingest.chatId } });
    expect(trace).toMatchObject({ toolCallId: "toolu_01AAAAAAAAAAAAAAAAAAAAAAAA", toolName: "Bash", status: "error" });
    expect(trace!.error).toMatch(/^Exit code 1/);
  });

  test("garbage on stdin: exit 0, nothing on stdout, nothing recorded", async () => {
    const before = await counts();
    for (const stdin of ["not json at all", "{\"session_id\": ", "", "   \n", "\u0000\u0001\u0002"]) {
      expectSilentSuccess(await runHook(stdin, { TRACEDECK_URL: t.url }));
    }
    const debugged = await runHook("not json at all", { TRACEDECK_URL: t.url, TRACEDECK_HOOK_DEBUG: "1" });
    expectSilentSuccess(debugged);
    expect(debugged.stderr).toMatch(/^tracedeck hook: stdin is not JSON; not sent \(\d+ ms\)\n$/);
    expect(await counts()).toEqual(before);
  });

  test("JSON that is not a hook body (the server's 400): exit 0, nothing on stdout, nothing recorded", async () => {
    const before = await counts();
    const run = await runHook(JSON.stringify({ hook_event_name: "PreToolUse", tool_name: "Bash" }), { TRACEDECK_URL: t.url, TRACEDECK_HOOK_DEBUG: "1" });
    expectSilentSuccess(run);
    expect(run.stderr).toMatch(/→ 400 /);
    expect(await counts()).toEqual(before);
  });
});

describe("when Tracedeck is not there or not answering", () => {
  test("the server down (a closed port): exit 0 at once, without waiting for the timeout", async () => {
    const port = await closedPort();
    const run = await runHook(JSON.stringify(fixture("03-pre-tool-use-bash", "down")), {
      TRACEDECK_URL: `http://127.0.0.1:${port}`,
      TRACEDECK_HOOK_TIMEOUT_MS: "10000",
      TRACEDECK_HOOK_DEBUG: "1",
    });
    expectSilentSuccess(run);
    expect(run.stderr).toMatch(/failed: ECONNREFUSED/);
    expect(run.ms).toBeLessThan(10_000 / 2); // well under its timeout: the refusal ends it
  });

  test("a server that accepts and never answers: exit 0 after about TRACEDECK_HOOK_TIMEOUT_MS", async () => {
    const sockets: Socket[] = [];
    const silent: NetServer = createNetServer((socket) => {
      sockets.push(socket); // accepted, read, never answered
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const run = await runHook(JSON.stringify(fixture("02-user-prompt-submit", "silent")), {
        TRACEDECK_URL: `http://127.0.0.1:${port}`,
        TRACEDECK_HOOK_TIMEOUT_MS: "1000",
        TRACEDECK_HOOK_DEBUG: "1",
      });
      expectSilentSuccess(run);
      expect(run.stderr).toMatch(/gave up after 1000 ms/);
      expect(sockets.length).toBe(1);
      expect(run.ms).toBeGreaterThanOrEqual(1000);
      expect(run.ms).toBeLessThan(1000 + MARGIN_MS);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test("the default timeout is 2000 ms", async () => {
    const silent = createNetServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const run = await runHook(JSON.stringify(fixture("03-pre-tool-use-bash", "silent-default")), { TRACEDECK_URL: `http://127.0.0.1:${port}` });
      expectSilentSuccess(run);
      expect(run.stderr).toBe("");
      expect(run.ms).toBeGreaterThanOrEqual(2000);
      expect(run.ms).toBeLessThan(2000 + MARGIN_MS);
    } finally {
      await new Promise<void>((resolve) => silent.close(() => resolve())); // the command's connection died with it
    }
  });
});

describe("what arrives", () => {
  test("the body as it was on stdin, POSTed as application/json to /hooks/claude-code; TRACEDECK_TOKEN as a Bearer Authorization header", async () => {
    const server = await captureServer();
    try {
      const body = JSON.stringify(fixture("04-pre-tool-use-read", "captured"), null, 2); // not re-serialized: sent byte for byte
      expectSilentSuccess(await runHook(body, { TRACEDECK_URL: server.url, TRACEDECK_TOKEN: "s3cret-token" }));
      expectSilentSuccess(await runHook(body, { TRACEDECK_URL: server.url }));
      expect(server.requests).toHaveLength(2);
      const [withToken, without] = server.requests;
      expect(withToken).toMatchObject({ method: "POST", url: "/hooks/claude-code" });
      expect(withToken!.headers["content-type"]).toBe("application/json");
      expect(withToken!.headers.authorization).toBe("Bearer s3cret-token");
      expect(withToken!.body.toString("utf8")).toBe(body);
      expect(without!.headers.authorization).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  test("a path prefix on TRACEDECK_URL is kept (Tracedeck behind a proxy)", async () => {
    const server = await captureServer();
    try {
      expectSilentSuccess(await runHook(JSON.stringify(fixture("01-session-start", "prefixed")), { TRACEDECK_URL: `${server.url}/tracedeck/` }));
      expect(server.requests.map((r) => r.url)).toEqual(["/tracedeck/hooks/claude-code"]);
    } finally {
      await server.close();
    }
  });

  test("an answer with a body (a decision, on SessionStart) or a 500: never echoed, exit 0", async () => {
    for (const [status, answer] of [
      [200, JSON.stringify({ continue: false, stopReason: "stop", hookSpecificOutput: { hookEventName: "SessionStart", additionalContext: "injected" } })],
      [500, JSON.stringify({ errors: [{ message: "Unexpected error." }] })],
      [503, ""],
    ] as const) {
      const server = await captureServer(status, answer);
      try {
        const run = await runHook(JSON.stringify(fixture("01-session-start", "answered")), { TRACEDECK_URL: server.url, TRACEDECK_HOOK_DEBUG: "1" });
        expectSilentSuccess(run);
        expect(run.stderr).toContain(`→ ${status} `);
        expect(run.stderr).not.toContain("injected");
        expect(server.requests).toHaveLength(1);
      } finally {
        await server.close();
      }
    }
  });

  test("stdin over 8 MiB: not sent, exit 0; 8 MiB exactly is sent", async () => {
    const server = await captureServer();
    try {
      const padded = (size: number) => {
        const head = JSON.stringify({ ...fixture("04-pre-tool-use-read", "big"), pad: "" });
        return Buffer.from(head.slice(0, -2) + "x".repeat(size - head.length) + '"}', "utf8");
      };
      const over = await runHook(padded(8 * 1024 * 1024 + 1), { TRACEDECK_URL: server.url, TRACEDECK_HOOK_DEBUG: "1" });
      expectSilentSuccess(over);
      expect(over.stderr).toMatch(/over 8388608 bytes; not sent/);
      expect(server.requests).toHaveLength(0);
      const exact = padded(8 * 1024 * 1024);
      expect(exact.length).toBe(8 * 1024 * 1024);
      expectSilentSuccess(await runHook(exact, { TRACEDECK_URL: server.url }));
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]!.body.length).toBe(8 * 1024 * 1024);
    } finally {
      await server.close();
    }
  });

  test("a TRACEDECK_URL that is not an http(s) URL: exit 0, nothing on stdout", async () => {
    for (const url of ["not a url", "ftp://127.0.0.1/"]) {
      const run = await runHook(JSON.stringify(fixture("01-session-start", "bad-url")), { TRACEDECK_URL: url, TRACEDECK_HOOK_DEBUG: "1" });
      expectSilentSuccess(run);
      expect(run.stderr).toMatch(/is not an http\(s\) URL; not sent/);
    }
  });
});
