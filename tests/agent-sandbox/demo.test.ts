// `npm run demo -- --once --no-wait --port 0 --keep-data` as a real child process, with the real
// sandbox (bwrap): it starts its own server, plays the scripted session, stops the server and exits
// 0. Then its data folder is opened and the session checked there: the traces, the failed build's
// error and output, the errors handed to the auto-fix turn, the passing build and a snapshot per
// turn. Needs bwrap (apt-get install -y bubblewrap); without it this file FAILS, it never skips.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { defaultBwrapPath } from "../../server/agent/sandbox.js";
import { openDatabase } from "../../server/db/client.js";
import { DATA_KEPT_PREFIX, DEMO_PROMPT } from "../../scripts/lib/demo-server.js";
import { isAlive, waitUntil } from "../agent/helpers.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
/** Arrival, not speed: npm, tsx, initdb, migrations and two builds on a shared two-core machine. */
const DEMO_TIMEOUT_MS = 240_000;

let child: ChildProcess | undefined;
let dataDir: string | undefined;

/** Processes (other than this one) whose environment names the demo's data folder: its server and anything it left. */
function processesOfDataDir(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, "latin1");
    } catch {
      continue;
    }
    if (environ.split("\0").includes(`DATA_DIR=${dir}`) && isAlive(Number(entry))) found.push(Number(entry));
  }
  return found;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

beforeAll(() => {
  if (defaultBwrapPath() === null) throw new Error("The sandbox tests need bubblewrap, which is not installed: run `apt-get install -y bubblewrap` (Debian/Ubuntu).");
});

afterAll(() => {
  // Whatever an assertion left behind: no demo process and no server of its data folder outlives the file.
  if (child?.pid && groupAlive(child.pid)) process.kill(-child.pid, "SIGKILL");
  if (dataDir) {
    for (const pid of processesOfDataDir(dataDir)) process.kill(pid, "SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test(
  "npm run demo -- --once: the scripted session with a failing build, auto-fix and a passing build, in the sandbox; the server stopped cleanly",
  async () => {
    const started = Date.now();
    const proc = spawn("npm", ["run", "demo", "--", "--once", "--no-wait", "--port", "0", "--keep-data"], {
      cwd: repoRoot,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      // API keys must not matter: the demo strips them.
      env: { ...process.env, NO_COLOR: "1", OPENAI_API_KEY: "sk-not-used", ANTHROPIC_API_KEY: "not-used", AGENT_PROVIDER: "openai" },
    });
    child = proc;
    let output = "";
    proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      const timer = setTimeout(() => process.kill(-proc.pid!, "SIGKILL"), DEMO_TIMEOUT_MS);
      proc.once("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
    dataDir = output.split("\n").find((line) => line.startsWith(DATA_KEPT_PREFIX))?.slice(DATA_KEPT_PREFIX.length).trim();
    expect(exit, `the demo did not finish well after ${Date.now() - started} ms:\n${output}`).toEqual({ code: 0, signal: null });
    expect(dataDir, output).toBeDefined();

    // The process tree is gone: npm, the demo, its server (its own process group) and the commands.
    expect(await waitUntil(() => !groupAlive(proc.pid!), 10_000)).toBe(true);
    expect(processesOfDataDir(dataDir!)).toEqual([]);
    // Stopped cleanly: the server logged its stop and gave the data folder's lock back.
    const serverLog = readFileSync(join(dataDir!, "server.log"), "utf8");
    expect(serverLog).toMatch(/"msg":"server\.stopped"/);
    expect(existsSync(join(dataDir!, "tracedeck.lock"))).toBe(false);

    // What it printed: the sandbox, the URL before the session, the live progress, the summary.
    expect(output).toMatch(/^Sandbox {4}bubblewrap/m);
    expect(output).not.toMatch(/AGENT_SANDBOX=off/);
    const watch = /^Watch it live: (http:\/\/127\.0\.0\.1:\d+)\/chats\/([0-9a-f-]{36})$/m.exec(output);
    expect(watch, output).not.toBeNull();
    expect(output.indexOf("Watch it live")).toBeLessThan(output.indexOf("── Turn 1"));
    for (const line of [
      "▸ list_files . (depth 2)",
      "▸ write_file src/stats.mjs",
      "▸ run_command ls -1 src",
      "▸ build npm run build",
      "    │ src/stats.mjs:3: example failed: mean([2, 4, 6]) returned 6, expected 4",
      "── Turn 2 · auto-fix attempt 1 of 3",
      "▸ edit_file src/stats.mjs",
      "■ Turn 2 ok: answered after 2 steps; build passed after 1 attempt",
      "Build      passed",
      "Files      src/stats.mjs (new)",
      "The demo session ran as scripted",
    ]) {
      expect(output).toContain(line);
    }
    expect(output).toMatch(/^✗ build \d+ ms: build failed with exit code 1$/m);
    expect(output).toMatch(/^✓ build \d+ ms$/m);

    // The workspace copy: the module the agent wrote, as repaired.
    const stats = readFileSync(join(dataDir!, "workspaces", "demo", "src", "stats.mjs"), "utf8");
    expect(stats).toContain("return total / values.length;");

    // What the server stored, read from the data folder's database.
    const db = await openDatabase({ dataDir: dataDir! });
    try {
      const chats = await db.prisma.chat.findMany();
      expect(chats.map((c) => [c.id, c.title])).toEqual([[watch![2], DEMO_PROMPT]]);
      const chatId = watch![2]!;

      const traces = await db.prisma.toolTrace.findMany({ where: { chatId }, orderBy: [{ startedAt: "asc" }, { id: "asc" }] });
      expect(traces.map((x) => `${x.turnNumber}:${x.toolName}:${x.status}`)).toEqual([
        "1:list_files:ok",
        "1:read_file:ok",
        "1:write_file:ok",
        "1:run_command:ok",
        "1:build:error",
        "2:edit_file:ok",
        "2:build:ok",
      ]);
      const [failedBuild, passedBuild] = traces.filter((x) => x.toolName === "build");
      expect(failedBuild!.error).toBe("build failed with exit code 1");
      expect(failedBuild!.toolOutput).toContain("src/stats.mjs:3: example failed: mean([2, 4, 6]) returned 6, expected 4");
      expect(failedBuild!.toolOutput).toContain("build failed: 2 problems in 3 modules");
      expect(failedBuild!.toolInput).toMatchObject({ program: "npm", args: ["run", "build"] });
      expect(passedBuild!.error).toBeNull();
      expect(passedBuild!.toolOutput).toContain("build ok");
      expect(traces.find((x) => x.toolName === "run_command")!.toolOutput).toContain("stats.mjs");

      const turns = await db.prisma.agentTurn.findMany({ where: { chatId }, orderBy: { turnNumber: "asc" } });
      expect(turns.map((x) => [x.turnNumber, x.trigger, x.status, x.fixAttempt, x.fixFollows, x.provider, x.model])).toEqual([
        [1, "user", "ok", null, true, "scripted", "demo"],
        [2, "autofix", "ok", 1, false, "scripted", "demo"],
      ]);
      expect(turns[0]!.prompt).toBe(DEMO_PROMPT);
      expect(turns[0]!.outcome).toBe("answered after 5 steps; build failed with exit code 1; auto-fix attempt 1 of 3 follows");
      // The injected errors: the auto-fix turn's prompt is the failed build's output.
      expect(turns[1]!.prompt).toMatch(/^The build failed \(npm run build, exit code 1\) — auto-fix attempt 1 of 3\. Fix these errors:/);
      expect(turns[1]!.prompt).toContain("src/stats.mjs:3: example failed: mean([2, 4, 6]) returned 6, expected 4");
      expect(turns[1]!.outcome).toBe("answered after 2 steps; build passed after 1 attempt");

      // One snapshot per turn; the first holds the pending auto-fix with the errors.
      const revisions = await db.prisma.agentSnapshotRevision.findMany({ where: { chatId }, orderBy: { turn: "asc" } });
      expect(revisions.map((r) => r.turn)).toEqual([1, 2]);
      const first = revisions[0]!.state as any;
      expect(first.pending.autofix).toMatchObject({ attempt: 1, maxAttempts: 3 });
      expect(first.pending.autofix.message).toBe(turns[1]!.prompt);
      expect(first.agent).toMatchObject({ provider: "scripted", model: "demo", workspace: "demo" });
      const second = revisions[1]!.state as any;
      expect(second.pending.autofix).toBeNull();
      expect(second.messages.some((m: any) => m.role === "user" && JSON.stringify(m.content).includes("The build failed"))).toBe(true);
    } finally {
      await db.close();
    }
  },
  DEMO_TIMEOUT_MS + 30_000,
);
