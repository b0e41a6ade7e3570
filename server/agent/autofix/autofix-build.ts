/**
 * The auto-fix loop's build step, after a turn whose write tools changed files: resolve the
 * workspace's build, run it as a trace of the turn (the `build` tool through the tool phase, in the
 * same sandbox as run_command), and decide: passed, another fix turn, or out of attempts.
 */
import type { Services } from "../../services/index.js";
import type { PendingAutofix } from "../state.js";
import { runToolCall } from "../tool-phase.js";
import type { ToolContext } from "../tools/index.js";
import { workspaceMoved } from "../workspace-setting.js";
import { resolveBuildCommand } from "./build-command.js";
import { type BuildToolResult, buildTool } from "./build-tool.js";
import { decideAfterBuild, fixMessage } from "./fix-loop.js";

export interface AutofixBuildInput {
  services: Pick<Services, "traces">;
  chatId: string;
  turnNumber: number;
  ownerRunId: string;
  workspace: string;
  buildCommand: string[] | null;
  ctx: ToolContext;
  /** Fix turns already run in this loop (0 after the user's own turn). */
  fixesRun: number;
  maxAttempts: number;
}

export type AutofixBuildOutcome =
  | { kind: "none"; summary: "" }
  | { kind: "passed" | "exhausted" | "cancelled" | "refused"; summary: string }
  | { kind: "retry"; summary: string; pending: PendingAutofix };

export async function runAutofixBuild(input: AutofixBuildInput): Promise<AutofixBuildOutcome> {
  const moved = workspaceMoved(input.workspace);
  if (moved) return { kind: "refused", summary: `the build did not run: ${moved}` };
  const command = resolveBuildCommand(input.workspace, input.buildCommand);
  if (!command) return { kind: "none", summary: "" };
  const outcome = await runToolCall({
    services: input.services,
    chatId: input.chatId,
    turnNumber: input.turnNumber,
    toolCallId: `turn-${input.turnNumber}/build-${input.fixesRun + 1}`,
    ownerRunId: input.ownerRunId,
    tool: buildTool,
    input: { program: command.program, args: command.args, timeoutMs: input.ctx.commandTimeouts?.defaultMs },
    ctx: input.ctx,
  });
  const result = outcome.result as BuildToolResult | undefined;
  if (outcome.status === "cancelled") return { kind: "cancelled", summary: `${command.display} was cancelled` };
  if (!result) return { kind: "refused", summary: `the build (${command.display}) could not run: ${outcome.output}` };
  const decision = decideAfterBuild({ passed: result.passed, attempt: input.fixesRun, maxAttempts: input.maxAttempts });
  if (decision.kind === "passed") return { kind: "passed", summary: decision.outcome };
  if (decision.kind === "exhausted") return { kind: "exhausted", summary: decision.outcome };
  const failed = { display: command.display, exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut, output: result.commandOutput };
  return {
    kind: "retry",
    summary: `${result.error ?? "build failed"}; auto-fix attempt ${decision.nextAttempt} of ${input.maxAttempts} follows`,
    pending: { attempt: decision.nextAttempt, maxAttempts: input.maxAttempts, message: fixMessage(failed, decision.nextAttempt, input.maxAttempts) },
  };
}
