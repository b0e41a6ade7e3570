// `npm run import -- claude-code <paths>` (scripts/import.ts) as a real child process on its own
// PGlite data folder: progress and summary lines with the counts, a second run that adds nothing,
// a missing path, usage errors, and a data folder held by a running server.
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { ccusageTotals } from "../helpers/ccusage-count.js";
import { spawnServer, type SpawnedServer } from "../helpers/server-process.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURES = join(repoRoot, "tests/fixtures/claude-code");
const SESSION = "7d3f1c2a-5b6e-4f80-9a1b-2c3d4e5f6a7b";
/** Arrival, not speed: tsx start-up and PGlite on a shared two-core machine. */
const CLI_TIMEOUT_MS = 120_000;

let work: string;
let projects: string;
const servers: SpawnedServer[] = [];

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/import.ts", ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", DATABASE_URL: "", LOG_LEVEL: "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the CLI did not exit within ${CLI_TIMEOUT_MS} ms:\n${stdout}\n${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A migrated data folder of its own (a copy of the run's template: no initdb per test). */
function dataDir(name: string): string {
  const dir = join(work, name);
  cpSync(inject("pgliteTemplateDir"), dir, { recursive: true });
  return dir;
}

const n = (value: number) => value.toLocaleString("en-US");

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "tracedeck-import-cli-"));
  projects = join(work, "projects");
  const project = join(projects, "-home-user-project");
  mkdirSync(project, { recursive: true });
  cpSync(join(FIXTURES, "session-basic.jsonl"), join(project, `${SESSION}.jsonl`));
  cpSync(join(FIXTURES, SESSION), join(project, SESSION), { recursive: true });
  cpSync(join(FIXTURES, "session-resumed.jsonl"), join(project, "9e8d7c6b-5a49-4382-8716-f5e4d3c2b1a0.jsonl"));
});
afterAll(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm run import -- claude-code", () => {
  test("imports a projects folder: a progress line per file, then the summary; a second run adds nothing; exit 0", async () => {
    const data = dataDir("data-import");
    const project = join(projects, "-home-user-project");
    const run = await runCli(["claude-code", projects], { DATA_DIR: data });
    expect(run.stderr).toBe("");
    expect(run.code, run.stdout).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    const totals = ccusageTotals([projects]);
    expect(lines).toEqual([
      `Importing 3 Claude Code transcripts into embedded PGlite in ${data}`,
      `file 1/3  ${join(project, `${SESSION}.jsonl`)}  +3 traces  +2 turns`,
      `file 2/3  ${join(project, SESSION, "subagents", "agent-a3f9c2e1.jsonl")}  +1 trace  +0 turns`,
      `file 3/3  ${join(project, "9e8d7c6b-5a49-4382-8716-f5e4d3c2b1a0.jsonl")}  +2 traces  +4 turns`,
      "Imported 3 files (2 sessions): 2 chats (2 created, 0 updated), +6 traces, +6 turns",
      `Tokens: +${n(totals.input)} input, +${n(totals.output)} output, +${n(totals.cacheRead)} cache read, +${n(totals.cacheWrite)} cache write`,
      "Skipped: 1 unreadable line",
    ]);

    const again = await runCli(["claude-code", join(project, `${SESSION}.jsonl`), join(project, SESSION)], { DATA_DIR: data });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain(`file 1/2  ${join(project, `${SESSION}.jsonl`)}  +0 traces  +0 turns`);
    expect(again.stdout).toContain("Imported 2 files (1 session): 0 chats (0 created, 0 updated), +0 traces, +0 turns");
    expect(again.stdout).toContain("Tokens: +0 input, +0 output, +0 cache read, +0 cache write");
    expect(again.stdout).toContain("Skipped: 4 calls already recorded, 2 turns already saved");
  });

  test("a missing path: said on stderr, the other paths still imported, exit 1", async () => {
    const data = dataDir("data-missing");
    const missing = join(work, "no-such-folder");
    const run = await runCli(["claude-code", missing, join(projects, "-home-user-project", `${SESSION}.jsonl`)], { DATA_DIR: data });
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stderr).toContain(`error: ${missing}: no such file or folder`);
    expect(run.stdout).toContain("Imported 1 file (1 session): 1 chat (1 created, 0 updated), +3 traces, +2 turns");
  });

  test("only missing paths: nothing opened, exit 1", async () => {
    const run = await runCli(["claude-code", join(work, "gone.jsonl")], { DATA_DIR: join(work, "never-created") });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("gone.jsonl: no such file or folder");
    expect(run.stdout).toContain("Nothing to import.");
  });

  test("usage errors exit 2 with the usage; --help prints it and exits 0", async () => {
    const none = await runCli([], { DATA_DIR: join(work, "never-created") });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("Usage: npm run import -- claude-code <file.jsonl | folder> [more paths]");
    expect(none.stdout).toBe("");

    const source = await runCli(["codex", projects], { DATA_DIR: join(work, "never-created") });
    expect(source.code).toBe(2);
    expect(source.stderr).toContain('unknown source "codex"');

    const noPaths = await runCli(["claude-code"], { DATA_DIR: join(work, "never-created") });
    expect(noPaths.code).toBe(2);
    expect(noPaths.stderr).toContain("give at least one transcript file or folder");

    const option = await runCli(["claude-code", "--fast", projects], { DATA_DIR: join(work, "never-created") });
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option --fast");

    const help = await runCli(["--help"], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: npm run import -- claude-code");
    expect(help.stderr).toBe("");
  });

  test("a data folder a running server holds: the clear message, exit 1", async () => {
    const data = dataDir("data-locked");
    const server = spawnServer({ DATA_DIR: data, AGENT_ENABLED: "false" });
    servers.push(server);
    await server.listening;
    const run = await runCli(["claude-code", projects], { DATA_DIR: data });
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stderr).toContain(`a Tracedeck server is running on this data folder (${data}, pid ${server.pid})`);
    expect(run.stderr).toContain("Stop the server, run the import, then start the server again.");
    expect(run.stderr).toContain("run the server on PostgreSQL with DATABASE_URL");
    expect(run.stdout).not.toContain("Imported");
    await server.stop();
  });
});
