// demo/scripts/demo.json played against the real tools on a temp copy of demo/workspace (sandbox
// off), with the auto-fix decisions: the turn writes a buggy module, the build fails, the step
// after it expects the fix message, the fix turn edits the module, the build passes.
import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { resolveBuildCommand } from "../../../server/agent/autofix/build-command.js";
import { buildTool } from "../../../server/agent/autofix/build-tool.js";
import { DEFAULT_FIX_ATTEMPTS, WRITE_TOOLS, decideAfterBuild, fixMessage } from "../../../server/agent/autofix/fix-loop.js";
import { tokensInput } from "../../../server/services/tokens.js";
import { parseInput } from "../../../server/services/validation.js";
import { agentTools } from "../../../server/agent/tools/index.js";
import { makeTempDir, removeDir } from "../helpers.js";
import { DEMO_WORKSPACE } from "./demo-helpers.js";

interface Step {
  text?: string;
  toolCalls?: { name: string; input: unknown }[];
  usage?: Record<string, number>;
  expect?: string;
}
const script = JSON.parse(readFileSync(join(import.meta.dirname, "../../../demo/scripts/demo.json"), "utf8")) as { steps: Step[] };

let ws: string;
beforeEach(() => {
  ws = makeTempDir("tracedeck-demo-script-");
  cpSync(DEMO_WORKSPACE, ws, { recursive: true });
});
afterEach(() => removeDir(ws));

test("the demo script plays: list, read, write a bug, run a command; the build fails; the fix turn makes it pass", async () => {
  const ctx = { workspace: ws, sandbox: { kind: "off" } as const };
  const command = resolveBuildCommand(ws, null)!;
  expect(command.display).toBe("npm run build");
  const tools = new Map(agentTools.map((t) => [t.name, t]));

  let lastUserMessage = "Add a stats module with mean and median."; // the user's own prompt
  let wroteFiles = false;
  let attempt = 0;
  const toolsUsed: string[] = [];
  const outcomes: string[] = [];
  for (const [index, step] of script.steps.entries()) {
    if (step.usage !== undefined) parseInput(tokensInput, step.usage);
    if (step.expect !== undefined) expect(lastUserMessage, `step ${index} expects`).toContain(step.expect);
    for (const call of step.toolCalls ?? []) {
      const tool = tools.get(call.name);
      expect(tool, `step ${index}: unknown tool ${call.name}`).toBeDefined();
      const result = await tool!.run(call.input, ctx); // throws on an input the schema refuses
      if (call.name === "run_command") expect((result as unknown as { exitCode: number }).exitCode).toBe(0);
      toolsUsed.push(call.name);
      if (WRITE_TOOLS.includes(call.name)) wroteFiles = true;
    }
    if ((step.toolCalls ?? []).length > 0) continue;
    // The turn ends: the auto-fix loop builds when it wrote files.
    if (!wroteFiles) continue;
    wroteFiles = false;
    const build = await buildTool.run({ program: command.program, args: command.args }, ctx);
    const decision = decideAfterBuild({ passed: build.passed, attempt, maxAttempts: DEFAULT_FIX_ATTEMPTS });
    if (decision.kind === "retry") {
      attempt = decision.nextAttempt;
      lastUserMessage = fixMessage({ ...build, display: command.display, output: build.commandOutput }, attempt, DEFAULT_FIX_ATTEMPTS);
      outcomes.push("failed");
    } else {
      outcomes.push(decision.outcome);
    }
  }
  expect(toolsUsed).toEqual(["list_files", "read_file", "write_file", "run_command", "edit_file"]);
  expect(outcomes).toEqual(["failed", "build passed after 1 attempt"]);
  expect(script.steps.at(-1)!.toolCalls ?? []).toEqual([]);
  expect(script.steps.filter((s) => s.expect !== undefined).map((s) => s.expect)).toEqual(["The build failed"]);
});
