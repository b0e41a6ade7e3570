// scripts/claude-code-hook.mjs against a server that requires keys: it sends TRACEDECK_API_KEY (or
// the older TRACEDECK_TOKEN) as a Bearer token; without one the server refuses the hook (401) and
// the command still exits 0 with nothing on stdout, as Claude Code needs.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const command = fileURLToPath(new URL("../../scripts/claude-code-hook.mjs", import.meta.url));
let db: TestDatabase;
let t: TestApp;
let ingest: string;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { env: { AUTH: "on" } });
  ingest = (await t.app.services.apiKeys.create({ name: "claude code", scopes: ["ingest"] })).key;
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

function runHook(body: unknown, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("TRACEDECK_")));
    const child = spawn(process.execPath, [command], { stdio: ["pipe", "pipe", "pipe"], env: { ...inherited, TRACEDECK_URL: t.url, TRACEDECK_HOOK_DEBUG: "1", TRACEDECK_HOOK_TIMEOUT_MS: "20000", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(JSON.stringify(body));
  });
}

const prompt = (session: string) => ({ session_id: session, hook_event_name: "UserPromptSubmit", prompt: "hi", cwd: "/tmp", transcript_path: "/nonexistent.jsonl" });

test("with TRACEDECK_API_KEY the hook is recorded (204); the chat exists", async () => {
  const session = "0a6f2d4e-8b1c-4e3a-9f70-1d2c3b4a5e6f";
  const run = await runHook(prompt(session), { TRACEDECK_API_KEY: ingest });
  expect(run).toMatchObject({ code: 0, stdout: "" });
  expect(run.stderr).toMatch(/→ 204/);
  expect(await db.prisma.ingestSession.count({ where: { externalId: session } })).toBe(1);
});

test("TRACEDECK_TOKEN, the older name, works too", async () => {
  const run = await runHook(prompt("1b7a3e5f-9c2d-4f4b-8a81-2e3d4c5b6a7f"), { TRACEDECK_TOKEN: ingest });
  expect(run.stderr).toMatch(/→ 204/);
});

test("without a key: 401, nothing recorded, exit 0 and silent", async () => {
  const session = "2c8b4f6a-0d3e-4a5c-9b92-3f4e5d6c7b8a";
  const run = await runHook(prompt(session), {});
  expect(run).toMatchObject({ code: 0, stdout: "" });
  expect(run.stderr).toMatch(/→ 401/);
  expect(await db.prisma.ingestSession.count({ where: { externalId: session } })).toBe(0);
});
