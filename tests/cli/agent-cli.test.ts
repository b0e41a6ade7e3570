// `npm run agent` (scripts/agent.ts) as a real child process against a real listening server (in
// process, sandbox off, a scripted model): what it prints while the agent works, its exit codes,
// a workspace outside the root, a server that is not there, Ctrl-C.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { post, startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { makeTempDir, removeDir } from "../agent/helpers.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
/** Arrival, not speed: tsx start-up of a child on a shared two-core machine. */
const CLI_TIMEOUT_MS = 90_000;

let db: TestDatabase;
let t: TestApp;
let root: string;
let scripts: string;
let outside: string;

/** check.mjs: the workspace's build; fails while src/hello.mjs still says TODO. */
const CHECK = `import { readFileSync } from "node:fs";
const text = readFileSync("src/hello.mjs", "utf8");
if (text.includes("TODO")) {
  console.error("src/hello.mjs:1: TODO left in the greeting");
  process.exit(1);
}
console.log("check ok");
`;

const SCRIPT = {
  steps: [
    { text: "Looking around first.", toolCalls: [{ name: "list_files", input: { depth: 1 } }], usage: { input: 10, output: 5, cacheWrite: 100 } },
    {
      text: "Writing the greeting.",
      toolCalls: [{ name: "write_file", input: { path: "src/hello.mjs", content: 'export const hello = "TODO";\n' } }],
      usage: { input: 20, output: 7, cacheRead: 100 },
    },
    { toolCalls: [{ name: "run_command", input: { program: "ls", args: ["src"] } }], usage: { input: 3, output: 2, cacheRead: 120 } },
    { text: "Done: src/hello.mjs exports hello.", usage: { input: 4, output: 6, cacheRead: 130, reasoning: 2 } },
    {
      expect: "The build failed",
      text: "The check wants no TODO; replacing it.",
      toolCalls: [{ name: "edit_file", input: { path: "src/hello.mjs", oldText: '"TODO"', newText: '"hello, world"' } }],
      usage: { input: 30, output: 9, cacheRead: 140 },
    },
    { text: "Fixed the greeting.", usage: { input: 5, output: 3, cacheRead: 150 } },
    // A later message in the same chat (--chat): an answer without changes, so no build.
    { text: "Nothing more to do here.", usage: { input: 6, output: 4 } },
  ],
};

beforeAll(async () => {
  db = await createTestDatabase();
  root = makeTempDir("tracedeck-cli-root-");
  scripts = makeTempDir("tracedeck-cli-scripts-");
  outside = makeTempDir("tracedeck-cli-outside-");
  writeFileSync(join(scripts, "cli.json"), JSON.stringify(SCRIPT));
  writeFileSync(join(scripts, "slow.json"), JSON.stringify({ steps: [{ text: "Waiting.", toolCalls: [{ name: "run_command", input: { program: "sleep", args: ["60"] } }] }, { text: "woke" }] }));
  t = await startTestApp(db, {
    agentSandbox: { kind: "off" },
    agentConfig: { workspacesRoot: root, providers: { openai: { timeoutMs: 5000 }, anthropic: { timeoutMs: 5000 }, scriptsDir: scripts } },
  });
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
  for (const dir of [root, scripts, outside]) removeDir(dir);
});

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onStdout` sees the output as it grows (to signal the process at the right moment). */
function runCli(args: string[], options: { env?: Record<string, string>; onStdout?: (stdout: string, pid: number) => void } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/agent.ts", ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "", TRACEDECK_URL: "", ...options.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(stdout, child.pid!);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the CLI did not exit within ${CLI_TIMEOUT_MS} ms:\n${stdout}\n${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function workspace(name: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, "src"), { recursive: true });
  writeFileSync(join(dir, "check.mjs"), CHECK);
  return dir;
}

/** The lines of `text` matching each pattern, in order: every pattern must match a later line than the one before. */
function expectInOrder(text: string, patterns: (string | RegExp)[]): void {
  const lines = text.split("\n");
  let at = -1;
  for (const pattern of patterns) {
    const found = lines.findIndex((line, index) => index > at && (typeof pattern === "string" ? line.includes(pattern) : pattern.test(line)));
    expect(found, `no line after line ${at + 1} matching ${pattern}:\n${text}`).toBeGreaterThan(-1);
    at = found;
  }
}

const chatCount = async () => (await post(t.graphqlUrl, `{ chats(first: 100) { edges { node { id } } } }`)).data!.chats.edges.length as number;

describe("a session", () => {
  test("prints each tool call as it starts and ends, what the agent says, the failed build, the auto-fix turn and each turn's outcome and tokens; exit 0", async () => {
    const dir = workspace("hello");
    const run = await runCli(["--url", t.url, "--workspace", dir, "--provider", "scripted", "--model", "cli", "--build", "node check.mjs", "--fix-attempts", "2", "Write a greeting module."]);
    expect(run.stderr).toBe("");
    expect(run.code, run.stdout).toBe(0);
    const out = run.stdout;
    expect(out).not.toMatch(/\u001b\[/); // not a terminal: no colours

    const dashboard = /Dashboard {2}(http:\/\/\S+)\/chats\/([0-9a-f-]{36})/.exec(out);
    expect(dashboard?.[1]).toBe(t.url);
    const uuid = dashboard![2]!;
    expectInOrder(out, [
      `Tracedeck  ${t.url} · sandbox off: commands run unconfined`,
      "Chat       Write a greeting module. (new)",
      /^Dashboard {2}http:/,
      `Agent      scripted · cli · workspace ${dir} · build node check.mjs · 2 auto-fix attempts`,
      /^── Turn 1 ─+$/,
      "» Write a greeting module.",
      "  Looking around first.",
      /^▸ list_files \. \(depth 1\)$/,
      /^✓ list_files \d+ ms$/,
      "  Writing the greeting.",
      /^▸ write_file src\/hello\.mjs \(29 B\)$/,
      /^✓ write_file \d+ ms$/,
      /^▸ run_command ls src$/,
      /^✓ run_command \d+ ms$/,
      "  Done: src/hello.mjs exports hello.",
      /^▸ build node check\.mjs$/,
      /^✗ build \d+ ms: build failed with exit code 1$/,
      "    │ src/hello.mjs:1: TODO left in the greeting",
      "■ Turn 1 ok: answered after 4 steps; build failed with exit code 1; auto-fix attempt 1 of 2 follows",
      "  tokens: input 37 · output 20 · cache read 350 · cache write 100 · reasoning 2",
      /^── Turn 2 · auto-fix attempt 1 of 2 ─+$/,
      /^» The build failed \(node check\.mjs, exit code 1\) — auto-fix attempt 1 of 2\. Fix these errors: … \(\+\d+ lines\)$/,
      "  The check wants no TODO; replacing it.",
      /^▸ edit_file src\/hello\.mjs: "TODO" → "hello, world"$/,
      /^✓ edit_file \d+ ms$/,
      "  Fixed the greeting.",
      /^▸ build node check\.mjs$/,
      /^✓ build \d+ ms$/,
      "■ Turn 2 ok: answered after 2 steps; build passed after 1 attempt",
      "  tokens: input 35 · output 12 · cache read 290 · cache write 0 · reasoning 0",
      "Turns      2 (1 user ok, 2 auto-fix ok)",
      "Tool calls 6 (1 not ok): list_files, write_file, run_command, build error, edit_file, build",
      "Build      passed",
      "Tokens     input 72 · output 32 · cache read 640 · cache write 100 · reasoning 2",
      `Done. See it in the dashboard: ${t.url}/chats/${uuid}`,
    ]);
    expect(readFileSync(join(dir, "src/hello.mjs"), "utf8")).toBe('export const hello = "hello, world";\n');

    // What it printed is what the server holds.
    const chat = (
      await post(t.graphqlUrl, `query($id: ID!) { chat(id: $id) { title workspace agent { provider model workspace buildCommand fixAttempts } agentTurns { turnNumber trigger status } } }`, { id: uuid })
    ).data!.chat;
    expect(chat).toEqual({
      title: "Write a greeting module.",
      workspace: dir,
      agent: { provider: "scripted", model: "cli", workspace: "hello", buildCommand: ["node", "check.mjs"], fixAttempts: 2 },
      agentTurns: [
        { turnNumber: 1, trigger: "user", status: "ok" },
        { turnNumber: 2, trigger: "autofix", status: "ok" },
      ],
    });

    // --chat continues it (the workspace relative to the root): the next turn answers without a build.
    const again = await runCli(["--url", t.url, "--chat", uuid, "--workspace", "hello", "Anything else?"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).not.toContain("(new)");
    expectInOrder(again.stdout, [/^── Turn 3 ─+$/, "» Anything else?", "  Nothing more to do here.", "■ Turn 3 ok: answered", "  tokens: input 6 · output 4", "Build      not run"]);
    expect(again.stdout).not.toContain("▸");
  });

  test("Ctrl-C cancels the running turn (cancelTurn) and exits 130", async () => {
    const dir = workspace("slow");
    let interrupted = false;
    const run = await runCli(["--url", t.url, "-w", dir, "--provider", "scripted", "--model", "slow", "Wait a minute."], {
      onStdout: (stdout, pid) => {
        if (!interrupted && stdout.includes("▸ run_command sleep 60")) {
          interrupted = true;
          process.kill(pid, "SIGINT");
        }
      },
    });
    expect(interrupted).toBe(true);
    expect(run.code, run.stdout + run.stderr).toBe(130);
    expectInOrder(run.stdout, ["Cancelling the turn", /^■ run_command cancelled after [\d.]+ m?s$/, /^■ Turn 1 cancelled/, "Cancelled. See it in the dashboard"]);
    const uuid = /\/chats\/([0-9a-f-]{36})/.exec(run.stdout)![1];
    const turns = (await post(t.graphqlUrl, `query($id: ID!) { chat(id: $id) { activeTurn { turnNumber } agentTurns { status } } }`, { id: uuid })).data!.chat;
    expect(turns).toEqual({ activeTurn: null, agentTurns: [{ status: "cancelled" }] });
  });
});

describe("refusals", () => {
  test("a workspace outside AGENT_WORKSPACES_ROOT: the server's reason, exit 1, no chat left behind", async () => {
    const before = await chatCount();
    const run = await runCli(["--url", t.url, "--workspace", outside, "--provider", "scripted", "--model", "cli", "hi"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(`error: the workspace ${outside} was refused: it must be a folder inside AGENT_WORKSPACES_ROOT (${root})\n`);
    expect(await chatCount()).toBe(before);
  });

  test("a workspace folder that does not exist: exit 1, no chat left behind", async () => {
    const before = await chatCount();
    const run = await runCli(["--url", t.url, "--workspace", "missing-folder", "--provider", "scripted", "--model", "cli", "hi"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`error: cannot start the turn: the folder ${join(root, "missing-folder")} does not exist\n`);
    expect(await chatCount()).toBe(before);
  });

  test("no server at the URL (from TRACEDECK_URL): a clear error, exit 1", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const run = await runCli(["--workspace", "x", "hi"], { env: { TRACEDECK_URL: `http://127.0.0.1:${port}` } });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `error: cannot reach Tracedeck at http://127.0.0.1:${port} (connection refused). Is the server running? Start it with \`npm start\`, or point --url or TRACEDECK_URL at it.\n`,
    );
  });

  test("a usage mistake: what is wrong and where the help is, exit 2; --help exits 0", async () => {
    const [usage, help] = await Promise.all([runCli(["hi"]), runCli(["--help"])]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe("error: --workspace DIR is required: the folder the agent works in\nRun `npm run agent -- --help` for the options.\n");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run agent -- --workspace DIR \[options\] "prompt"/);
  });
});
