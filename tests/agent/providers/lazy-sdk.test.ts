// The model SDKs (`openai`, `@anthropic-ai/sdk`, about 23 MB together) and `ioredis` are loaded on
// first use, not when the server starts. A child process imports the server's app with a preload
// that records every module resolved (and the require cache), then uses each package once.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const record = fileURLToPath(new URL("../../fixtures/lazy-modules/record.mjs", import.meta.url));
const child = fileURLToPath(new URL("../../fixtures/lazy-modules/child.ts", import.meta.url));

interface Report {
  imported: boolean;
  modulesSeen: number;
  atStart: Record<"openai" | "anthropic" | "ioredis", boolean>;
  afterProviders: Record<"openai" | "anthropic" | "ioredis", boolean>;
  afterRedis: Record<"openai" | "anthropic" | "ioredis", boolean>;
  errors: Record<"openai" | "anthropic", string>;
}

function runChild(): Promise<Report> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const p = spawn(process.execPath, ["--import", "tsx", "--import", record, child], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("error", reject);
    p.on("exit", (code) => {
      const line = out.trim().split("\n").at(-1) ?? "";
      try {
        resolve(JSON.parse(line) as Report);
      } catch {
        reject(new Error(`child exited with ${code}: ${out}\n${err}`));
      }
    });
  });
}

test("importing the app loads neither model SDK nor ioredis; first use loads each", async () => {
  const report = await runChild();
  expect(report.imported).toBe(true);
  // The recording saw the app's module graph (a broken preload would see next to nothing).
  expect(report.modulesSeen).toBeGreaterThan(100);
  expect(report.atStart).toEqual({ openai: false, anthropic: false, ioredis: false });
  // A provider's first request loads its SDK, and its errors are still mapped through the SDK's classes.
  expect(report.afterProviders).toEqual({ openai: true, anthropic: true, ioredis: false });
  expect(report.errors.openai).toMatch(/^unreachable: could not reach OpenAI at 127\.0\.0\.1:1: /);
  expect(report.errors.anthropic).toMatch(/^unreachable: could not reach Anthropic at 127\.0\.0\.1:1: /);
  expect(report.afterRedis).toEqual({ openai: true, anthropic: true, ioredis: true });
}, 60_000);
