// The build tool on a temp copy of demo/workspace, with the sandbox explicitly off (no bwrap
// needed: the same runs under bwrap are in tests/agent-sandbox/build.test.ts), and through the
// tool phase on a real database.
import { cpSync, existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { resolveBuildCommand } from "../../../server/agent/autofix/build-command.js";
import { BUILD_OUTPUT_CAP_BYTES, buildTool, type BuildToolResult } from "../../../server/agent/autofix/build-tool.js";
import { SandboxUnavailableError } from "../../../server/agent/command-errors.js";
import { runToolCall } from "../../../server/agent/tool-phase.js";
import { ToolInputError, agentTools, type ToolContext } from "../../../server/agent/tools/index.js";
import { useServiceDatabase } from "../../helpers/service-assertions.js";
import { makeTempDir, removeDir } from "../helpers.js";
import { BUGGY_STATS, DEMO_WORKSPACE } from "./demo-helpers.js";

let ws: string;
beforeEach(() => {
  ws = makeTempDir("tracedeck-build-tool-");
  cpSync(DEMO_WORKSPACE, ws, { recursive: true });
});
afterEach(() => removeDir(ws));

const ctx = (extra: Partial<ToolContext> = {}): ToolContext => ({ workspace: ws, sandbox: { kind: "off" }, ...extra });
const npmBuild = () => {
  const command = resolveBuildCommand(ws, null)!;
  return { program: command.program, args: command.args };
};

describe("the build tool, sandbox off", () => {
  test("the demo workspace as shipped passes, and npm leaves nothing in the workspace", async () => {
    const before = readdirSync(ws).sort();
    const result = await buildTool.run(npmBuild(), ctx());
    expect(result, result.output).toMatchObject({ passed: true, failed: false, exitCode: 0, signal: null, timedOut: false, cancelled: false, display: "npm run build" });
    expect(result.error).toBeUndefined();
    expect(result.commandOutput).toMatch(/checked 2 modules and \d+ examples\nbuild ok\n/);
    expect(result.output).toMatch(/build ok\n\[exit code 0; [\d,]+ ms\]$/);
    expect(result.durationMs).toBeGreaterThan(0);
    // No .npm (cache, debug logs, update-notifier stamp) in the workspace, though HOME is the workspace.
    expect(readdirSync(ws).sort()).toEqual(before);
  });

  test("a module with a failing example fails the build, with file:line in the output", async () => {
    writeFileSync(join(ws, "src/stats.mjs"), BUGGY_STATS);
    const result = await buildTool.run(npmBuild(), ctx());
    expect(result).toMatchObject({ passed: false, failed: true, exitCode: 1, timedOut: false, error: "build failed with exit code 1" });
    expect(result.commandOutput).toContain("src/stats.mjs:2: example failed: mean([2, 4, 6]) returned 6, expected 4");
    expect(result.output).toMatch(/build failed: 1 problem in 3 modules\n\[exit code 1; [\d,]+ ms\]$/);
  });

  test("a syntax error fails the build with the line", async () => {
    writeFileSync(join(ws, "src/format.mjs"), "export function broken( {\n  return 1;\n}\n");
    const result = await buildTool.run({ program: "node", args: ["build.mjs"] }, ctx());
    expect(result).toMatchObject({ passed: false, failed: true, exitCode: 1 });
    expect(result.commandOutput).toMatch(/^src\/format\.mjs:\d+: SyntaxError: /m);
  });

  test("without a sandbox in the context the build is refused and nothing runs", async () => {
    await expect(buildTool.run({ program: "node", args: ["-e", "require('fs').writeFileSync('ran.txt', 'x')"] }, { workspace: ws })).rejects.toBeInstanceOf(SandboxUnavailableError);
    expect(existsSync(join(ws, "ran.txt"))).toBe(false);
  });

  test("the input is validated", async () => {
    await expect(buildTool.run({ program: "" }, ctx())).rejects.toBeInstanceOf(ToolInputError);
    await expect(buildTool.run({ program: "npm", args: "run build" }, ctx())).rejects.toBeInstanceOf(ToolInputError);
    await expect(buildTool.run({ program: "npm", extra: 1 }, ctx())).rejects.toBeInstanceOf(ToolInputError);
    await expect(buildTool.run({ program: "npm", timeoutMs: 0 }, ctx())).rejects.toBeInstanceOf(ToolInputError);
  });

  test("a long output keeps head and tail, and with the exit line stays within the cap", async () => {
    const script = "for (let i = 1; i <= 5000; i++) console.log('line ' + i + ' of the build output'); process.exitCode = 2";
    const result = await buildTool.run({ program: "node", args: ["-e", script] }, ctx());
    expect(result).toMatchObject({ failed: true, exitCode: 2, error: "build failed with exit code 2" });
    expect(Buffer.byteLength(result.output)).toBeLessThanOrEqual(BUILD_OUTPUT_CAP_BYTES);
    expect(result.output.startsWith("line 1 of the build output\n")).toBe(true);
    expect(result.output).toMatch(/line 5000 of the build output\n\[exit code 2; [\d,]+ ms\]$/);
    expect(result.output).toMatch(/… \[[\d,]+ bytes cut\] …/);
  });

  test("the timeout: the context's default, a longer one asked for, never above the maximum", async () => {
    const sleeper = { program: "node", args: ["-e", "setTimeout(() => {}, 20000)"] };
    const timeouts = { defaultMs: 200, maxMs: 600 };
    const byDefault = await buildTool.run(sleeper, ctx({ commandTimeouts: timeouts }));
    expect(byDefault).toMatchObject({ timedOut: true, passed: false, failed: true, timeoutMs: 200, error: "build timed out after 200 ms" });
    const longer = await buildTool.run({ ...sleeper, timeoutMs: 400 }, ctx({ commandTimeouts: timeouts }));
    expect(longer).toMatchObject({ timedOut: true, timeoutMs: 400 });
    const capped = await buildTool.run({ ...sleeper, timeoutMs: 100_000 }, ctx({ commandTimeouts: timeouts }));
    expect(capped).toMatchObject({ timedOut: true, timeoutMs: 600 });
  });

  test("a cancelled build is neither passed nor failed", async () => {
    const controller = new AbortController();
    const pending = buildTool.run({ program: "node", args: ["-e", "setTimeout(() => {}, 20000)"] }, ctx({ signal: controller.signal }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort();
    expect(await pending).toMatchObject({ cancelled: true, passed: false, failed: false });
  });

  test("it is not one of the model's tools", () => {
    expect(agentTools.map((t) => t.name)).not.toContain("build");
  });
});

describe("the build through the tool phase", () => {
  const { db, h } = useServiceDatabase();

  test("a failing build: trace status error with the output stored and the error set; a passing one: ok", async () => {
    const chatId = (await h.services.chats.create({ title: "auto-fix build" })).id;
    writeFileSync(join(ws, "src/stats.mjs"), BUGGY_STATS);
    const failing = await runToolCall({ services: h.services, chatId, turnNumber: 1, toolCallId: "build-1", tool: buildTool, input: npmBuild(), ctx: ctx() });
    expect(failing).toMatchObject({ status: "error", isError: true });
    const result = failing.result as BuildToolResult;
    expect(result).toMatchObject({ failed: true, exitCode: 1 });
    expect(failing.output).toBe(result.output);
    const trace = await db.prisma.toolTrace.findUniqueOrThrow({ where: { id: failing.traceId } });
    expect(trace).toMatchObject({ toolName: "build", status: "error", error: "build failed with exit code 1", toolOutput: result.output, toolInput: { program: "npm", args: ["run", "build"] } });
    expect(trace.toolOutput).toContain("src/stats.mjs:2: example failed");

    writeFileSync(join(ws, "src/stats.mjs"), BUGGY_STATS.replace("(values.length - 1)", "values.length"));
    const passing = await runToolCall({ services: h.services, chatId, turnNumber: 2, toolCallId: "build-2", tool: buildTool, input: npmBuild(), ctx: ctx() });
    expect(passing).toMatchObject({ status: "ok", isError: false, result: { passed: true, failed: false } });
    expect(await db.prisma.toolTrace.findUniqueOrThrow({ where: { id: passing.traceId } })).toMatchObject({ status: "ok", error: null, toolOutput: passing.output });
    expect(passing.output).toContain("build ok");
  });
});
