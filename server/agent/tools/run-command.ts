/**
 * run_command: runs one program with its arguments in the workspace, through runCommand
 * (../run-command.ts): never a shell, paths guarded, a scrubbed environment, bounded in time and
 * output, cancellable through ctx.signal, and inside the sandbox the context gives.
 *
 * Without ctx.sandbox the tool refuses (SandboxUnavailableError) and runs nothing: a command runs
 * unconfined only when the context's sandbox is { kind: "off" }, chosen explicitly.
 *
 * The model is shown the capped output (stdout and stderr interleaved), then one line with the
 * exit code or the signal and the duration, and "(timed out after N ms)" or "(cancelled)" when the
 * command was stopped. A timeout or a cancellation is a result, not an error: the result says
 * `timedOut` or `cancelled` (the tool phase finishes the trace as timeout or cancelled).
 * Refusals (path outside the workspace, program not found, no sandbox, bad options) reject with a
 * CommandRefusedError before anything runs.
 */
import { z } from "zod";
import { SandboxUnavailableError } from "../command-errors.js";
import { DEFAULT_MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, runCommand, type RunCommandResult } from "../run-command.js";
import { NO_NUL_PATTERN, NO_NUL_REGEX, appendNote, defineTool, groupThousands, type JsonSchema } from "./tool.js";

/**
 * The JSON Schema the model sees. `args` is an array, a type the shared JsonSchema subset does not
 * name, so the schema is written against a local widening and handed over as a JsonSchema.
 */
interface CommandJsonSchema extends Omit<JsonSchema, "type" | "properties"> {
  type?: JsonSchema["type"] | "array";
  items?: CommandJsonSchema;
  properties?: Record<string, CommandJsonSchema>;
}

const commandInputSchema: CommandJsonSchema = {
  type: "object",
  properties: {
    program: {
      type: "string",
      minLength: 1,
      pattern: NO_NUL_PATTERN,
      description: "The program: a bare name looked up on PATH (e.g. \"npm\", \"git\") or a path inside the workspace. Not a shell command line.",
    },
    args: {
      type: "array",
      items: { type: "string", pattern: NO_NUL_PATTERN },
      default: [],
      description: "The arguments, one string each (no shell: no quoting, globbing, pipes or redirections).",
    },
    cwd: { type: "string", minLength: 1, pattern: NO_NUL_PATTERN, description: "The working directory, relative to the workspace. Default: the workspace." },
    timeoutMs: {
      type: "integer",
      minimum: 1,
      maximum: DEFAULT_MAX_TIMEOUT_MS,
      description: `Stop the command after this many milliseconds (default ${DEFAULT_TIMEOUT_MS}; lowered to the configured limit).`,
    },
  },
  required: ["program"],
  additionalProperties: false,
};

export const runCommandInputSchema = commandInputSchema as JsonSchema;

const noNul = (what: z.ZodString) => what.regex(NO_NUL_REGEX, "must not contain NUL characters");

export const runCommandZodSchema = z.strictObject({
  program: noNul(z.string().min(1)),
  args: z.array(noNul(z.string())).default([]),
  cwd: noNul(z.string().min(1)).optional(),
  timeoutMs: z.number().int().min(1).max(DEFAULT_MAX_TIMEOUT_MS).optional(),
});

export interface RunCommandToolResult {
  /** What the model is shown: the command's output, then the exit line. */
  output: string;
  /** The command's own output (capped), without the exit line. */
  commandOutput: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  truncated: boolean;
  outputBytes: number;
  durationMs: number;
  /** The timeout that applied. */
  timeoutMs: number;
  command: RunCommandResult["command"];
}

/** The line after the output: how the command ended and how long it took. */
export function exitLine(result: Pick<RunCommandResult, "exitCode" | "signal" | "timedOut" | "cancelled" | "durationMs" | "timeoutMs">): string {
  const ended = result.exitCode !== null ? `exit code ${result.exitCode}` : `killed by ${result.signal ?? "a signal"}`;
  let line = `[${ended}; ${groupThousands(Math.round(result.durationMs))} ms]`;
  if (result.timedOut) line += ` (timed out after ${groupThousands(result.timeoutMs)} ms)`;
  else if (result.cancelled) line += " (cancelled)";
  return line;
}

export const runCommandTool = defineTool({
  name: "run_command",
  description:
    "Run one program with arguments in the workspace (no shell), in a sandbox, with a time limit. " +
    "Returns stdout and stderr interleaved (capped: a long output keeps its head and tail), then the exit code or signal and the duration.",
  inputSchema: runCommandInputSchema,
  zodSchema: runCommandZodSchema,
  async execute(input, ctx): Promise<RunCommandToolResult> {
    if (ctx.sandbox === undefined) throw new SandboxUnavailableError("no sandbox was configured for this agent");
    const timeouts = ctx.commandTimeouts;
    const result = await runCommand({
      program: input.program,
      args: input.args,
      cwd: input.cwd,
      workspace: ctx.workspace,
      sandbox: ctx.sandbox,
      timeoutMs: input.timeoutMs ?? timeouts?.defaultMs,
      maxTimeoutMs: timeouts?.maxMs,
      signal: ctx.signal,
    });
    return {
      output: appendNote(result.output, exitLine(result)),
      commandOutput: result.output,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      cancelled: result.cancelled,
      truncated: result.truncated,
      outputBytes: result.outputBytes,
      durationMs: result.durationMs,
      timeoutMs: result.timeoutMs,
      command: result.command,
    };
  },
});
