/**
 * build: runs the workspace's build command (from resolveBuildCommand) for the auto-fix loop.
 *
 * Not one of the model's tools (it is not in agentTools): the loop runs it itself, through
 * runToolCall, so that every build is a trace of its own like any tool call.
 *
 * It runs exactly like run_command: through runCommand (no shell, own process group, timeout and
 * cancellation kill the group), in ctx.sandbox (refused, with nothing run, when the context has
 * none; unconfined only with an explicit { kind: "off" }), in the workspace. The timeout is
 * ctx.commandTimeouts' default unless the input asks for a longer one (a build may need it), never
 * above ctx.commandTimeouts' maximum.
 *
 * Environment: the usual scrubbed child environment (childEnv, HOME = the workspace) plus
 * BUILD_ENV, which keeps npm's (and pnpm's) own files out of the workspace. Without it, every
 * `npm run build` leaves `.npm/_logs/<time>-debug-0.log` and `.npm/_update-notifier-last-checked`
 * in the workspace (npm's cache is $HOME/.npm and HOME is the workspace) and tries to reach the
 * registry for its update check. Under bwrap /tmp is a private tmpfs, so the cache there vanishes
 * with the sandbox; with the sandbox "off" it is a folder of the host's /tmp.
 *
 * Result: `output` is the build's output (stdout and stderr interleaved, head and tail kept) then
 * run_command's exit line, at most BUILD_OUTPUT_CAP_BYTES in all, so the trace store (which keeps
 * only the head of a longer text) keeps it whole; `passed` when the exit code is 0; `failed` when it
 * did not pass and was not cancelled (a non-zero exit, a signal, a timeout), with `error` saying how.
 * The tool phase finishes a failed build's trace as error with the output kept (a timeout as
 * timeout, a cancellation as cancelled).
 */
import { z } from "zod";
import { childEnv } from "../child-env.js";
import { SandboxUnavailableError } from "../command-errors.js";
import { DEFAULT_MAX_TIMEOUT_MS, runCommand } from "../run-command.js";
import { exitLine } from "../tools/run-command.js";
import { NO_NUL_PATTERN, NO_NUL_REGEX, appendNote, defineTool, groupThousands, type JsonSchema } from "../tools/tool.js";
import { workspaceRoot } from "../workspace-paths.js";
import { displayCommand } from "./build-command.js";

/** The most of a build's output kept, the exit line included (head and tail around a note). */
export const BUILD_OUTPUT_CAP_BYTES = 32_768;
/** Room left for the exit line after the command's capped output (it is at most about 70 bytes). */
const EXIT_LINE_RESERVE = 128;

/** The build's cache folders: outside the workspace (see the header). */
const BUILD_CACHE_DIR = `/tmp/tracedeck-build-cache-${process.getuid?.() ?? "user"}`;

/** Added to the child environment of a build (npm and pnpm read npm_config_*). */
export const BUILD_ENV: Readonly<Record<string, string>> = {
  npm_config_cache: `${BUILD_CACHE_DIR}/npm`,
  npm_config_logs_max: "0",
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false",
  XDG_CACHE_HOME: `${BUILD_CACHE_DIR}/xdg-cache`,
  XDG_STATE_HOME: `${BUILD_CACHE_DIR}/xdg-state`,
};

/** array-typed JSON Schema, as in tools/run-command.ts (the shared subset has no "array"). */
interface BuildJsonSchema extends Omit<JsonSchema, "type" | "properties"> {
  type?: JsonSchema["type"] | "array";
  items?: BuildJsonSchema;
  properties?: Record<string, BuildJsonSchema>;
}

const buildJsonSchema: BuildJsonSchema = {
  type: "object",
  properties: {
    program: { type: "string", minLength: 1, pattern: NO_NUL_PATTERN, description: "The build program (from resolveBuildCommand), e.g. \"npm\"." },
    args: { type: "array", items: { type: "string", pattern: NO_NUL_PATTERN }, default: [], description: "Its arguments, e.g. [\"run\", \"build\"]." },
    timeoutMs: { type: "integer", minimum: 1, maximum: DEFAULT_MAX_TIMEOUT_MS, description: "A longer timeout than the command default; lowered to the configured maximum." },
  },
  required: ["program"],
  additionalProperties: false,
};

export const buildInputSchema = buildJsonSchema as JsonSchema;

const noNul = (what: z.ZodString) => what.regex(NO_NUL_REGEX, "must not contain NUL characters");

export const buildZodSchema = z.strictObject({
  program: noNul(z.string().min(1)),
  args: z.array(noNul(z.string())).default([]),
  timeoutMs: z.number().int().min(1).max(DEFAULT_MAX_TIMEOUT_MS).optional(),
});

export type BuildToolInput = z.input<typeof buildZodSchema>;

export interface BuildToolResult {
  /** The build's output (capped) and the exit line: what the trace stores. */
  output: string;
  /** The build's own output (capped), without the exit line: what a fix message quotes. */
  commandOutput: string;
  /** Exit code 0 (and neither timed out nor cancelled). */
  passed: boolean;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  /** The timeout that applied. */
  timeoutMs: number;
  /** Did not pass and was not cancelled: a non-zero exit, a signal or a timeout. */
  failed: boolean;
  /** How it failed ("build failed with exit code 1"), when `failed`. */
  error?: string;
  /** The command as a person would type it. */
  display: string;
}

function failure(result: { exitCode: number | null; signal: NodeJS.Signals | null; timedOut: boolean; timeoutMs: number }): string {
  if (result.timedOut) return `build timed out after ${groupThousands(result.timeoutMs)} ms`;
  if (result.exitCode !== null) return `build failed with exit code ${result.exitCode}`;
  return `build failed: killed by ${result.signal ?? "a signal"}`;
}

export const buildTool = defineTool({
  name: "build",
  description: "Run the workspace's build command (run by the auto-fix loop after a turn that changed files; not offered to the model).",
  inputSchema: buildInputSchema,
  zodSchema: buildZodSchema,
  async execute(input, ctx): Promise<BuildToolResult> {
    if (ctx.sandbox === undefined) throw new SandboxUnavailableError("no sandbox was configured for this agent");
    const timeouts = ctx.commandTimeouts;
    const env = childEnv({ workspace: workspaceRoot(ctx.workspace), extra: BUILD_ENV });
    const result = await runCommand({
      program: input.program,
      args: input.args,
      workspace: ctx.workspace,
      sandbox: ctx.sandbox,
      timeoutMs: input.timeoutMs ?? timeouts?.defaultMs,
      maxTimeoutMs: timeouts?.maxMs,
      outputCapBytes: BUILD_OUTPUT_CAP_BYTES - EXIT_LINE_RESERVE,
      env,
      signal: ctx.signal,
    });
    const passed = result.exitCode === 0 && !result.timedOut && !result.cancelled;
    const failed = !passed && !result.cancelled;
    return {
      output: appendNote(result.output, exitLine(result)),
      commandOutput: result.output,
      passed,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      cancelled: result.cancelled,
      durationMs: result.durationMs,
      timeoutMs: result.timeoutMs,
      failed,
      ...(failed ? { error: failure(result) } : {}),
      display: displayCommand(input.program, input.args),
    };
  },
});
