// The run_command tool on real child processes (sandbox "off" unless a test says otherwise).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { PathOutsideWorkspaceError, SandboxUnavailableError } from "../../server/agent/command-errors.js";
import { agentTools, fileTools, runCommandTool, ToolInputError, type ToolContext } from "../../server/agent/tools/index.js";
import { makeTempDir, removeDir } from "./helpers.js";

let ws: string;
beforeEach(() => {
  ws = makeTempDir("tracedeck-run-tool-");
});
afterEach(() => removeDir(ws));

const off = (extra: Partial<ToolContext> = {}): ToolContext => ({ workspace: ws, sandbox: { kind: "off" }, ...extra });
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: unknown) => e,
  );

describe("run_command", () => {
  test("shows the output, then the exit code and the duration", async () => {
    const result = await runCommandTool.run({ program: "node", args: ["-e", "process.stdout.write('hello\\n'); process.stderr.write('oops\\n'); process.exit(3)"] }, off());
    expect(result.exitCode).toBe(3);
    expect(result.signal).toBeNull();
    expect(result.timedOut).toBe(false);
    expect(result.commandOutput).toContain("hello\n");
    expect(result.commandOutput).toContain("oops\n");
    expect(result.output.startsWith(result.commandOutput)).toBe(true);
    expect(result.output.slice(result.commandOutput.length)).toMatch(/^\[exit code 3; [\d,]+ ms\]$/);
    expect(result.command.cwd).toBe(ws);
  });

  test("args default to none, and run in cwd", async () => {
    const result = await runCommandTool.run({ program: "pwd" }, off());
    expect(result.commandOutput).toBe(`${ws}\n`);
    expect(result.exitCode).toBe(0);
  });

  test("a timeout kills the command and says so; the context's limits apply", async () => {
    const result = await runCommandTool.run({ program: "node", args: ["-e", "console.log('begun'); setInterval(() => {}, 1000)"], timeoutMs: 60_000 }, off({ commandTimeouts: { defaultMs: 100, maxMs: 700 } }));
    expect(result).toMatchObject({ timedOut: true, cancelled: false, exitCode: null, timeoutMs: 700 });
    expect(result.signal).not.toBeNull();
    expect(result.output).toContain("begun");
    expect(result.output).toMatch(/\[killed by SIG[A-Z]+; [\d,]+ ms\] \(timed out after 700 ms\)$/);
    expect(result.durationMs).toBeGreaterThanOrEqual(695);

    const byDefault = await runCommandTool.run({ program: "sleep", args: ["5"] }, off({ commandTimeouts: { defaultMs: 200, maxMs: 700 } }));
    expect(byDefault).toMatchObject({ timedOut: true, timeoutMs: 200 });
  });

  test("without a sandbox in the context, it refuses and runs nothing", async () => {
    const error = await rejection(runCommandTool.run({ program: "node", args: ["-e", "require('fs').writeFileSync('ran.txt', 'x')"] }, { workspace: ws }));
    expect(error).toBeInstanceOf(SandboxUnavailableError);
    expect((error as Error).message).toMatch(/no sandbox was configured/);
    expect(existsSync(join(ws, "ran.txt"))).toBe(false);
    // The same command with the sandbox "off" does run: the refusal above was the missing sandbox.
    await runCommandTool.run({ program: "node", args: ["-e", "require('fs').writeFileSync('ran.txt', 'x')"] }, off());
    expect(existsSync(join(ws, "ran.txt"))).toBe(true);
  });

  test("an unavailable sandbox refuses too (never unconfined)", async () => {
    const error = await rejection(runCommandTool.run({ program: "node", args: ["-e", "require('fs').writeFileSync('ran.txt', 'x')"] }, { workspace: ws, sandbox: { kind: "unavailable", reason: "bwrap was not found on PATH" } }));
    expect(error).toBeInstanceOf(SandboxUnavailableError);
    expect((error as Error).message).toContain("bwrap was not found on PATH");
    expect(existsSync(join(ws, "ran.txt"))).toBe(false);
  });

  test("a cwd outside the workspace is refused", async () => {
    const error = await rejection(runCommandTool.run({ program: "pwd", cwd: ".." }, off()));
    expect(error).toBeInstanceOf(PathOutsideWorkspaceError);
  });

  test("the input is checked: program required, args strings, no extra fields, no NUL", async () => {
    for (const bad of [{}, { program: "" }, { program: "ls", args: "-l" }, { program: "ls", args: [1] }, { program: "ls", extra: 1 }, { program: "l\0s" }, { program: "ls", timeoutMs: 0 }]) {
      expect(await rejection(runCommandTool.run(bad, off()))).toBeInstanceOf(ToolInputError);
    }
    expect(runCommandTool.parse({ program: "ls" })).toEqual({ program: "ls", args: [] });
  });

  test("is registered with the agent's tools", () => {
    expect(agentTools.map((t) => t.name)).toEqual([...fileTools.map((t) => t.name), "run_command"]);
    expect(runCommandTool.inputSchema.required).toEqual(["program"]);
  });
});
