/**
 * The tool phase: the one place every tool call of the agent goes through.
 *
 * runToolCall starts a trace through the services (status running) BEFORE the tool runs, runs the
 * tool, measures its latency on the monotonic clock (performance.now()), and finishes the trace
 * through the services. The services own every write and every publish; this module only calls them.
 *
 * How a call ends (status of the trace → what the caller gets):
 * - the tool returned → ok, with its output; a result saying `timedOut: true` (run_command) →
 *   timeout, one saying `cancelled: true` → cancelled, one saying `failed: true` (build) → error,
 *   with the result's `error` string as the trace's error (`<tool> failed` when it gives none); the
 *   output is kept on the trace in each case, and is what the model is shown (isError for all but
 *   ok). The flags are read in that order: a result both timed out and failed is a timeout;
 * - the tool threw while ctx.signal was aborted, or threw a CommandCancelledError → cancelled;
 * - the tool threw a ToolInputError, a ToolError or a CommandRefusedError (a path outside the
 *   workspace, no sandbox, program not found, bad options) → error, with the message; the message
 *   is the tool result the model is shown (isError), nothing is thrown;
 * - the tool threw anything else (a bug, an I/O failure) → error, with the message; then the error
 *   is thrown on to the caller.
 *
 * Output: the services cap what they store at TRACE_OUTPUT_CAP_BYTES; what the model is shown is
 * capped here at TOOL_RESULT_CAP_BYTES (head and tail around a note, see output-cap.ts).
 *
 * Token usage: a model step may ask for several tool calls. The caller passes the step's usage
 * (any shape the services' tokens input takes) on EACH call of the step, with the step's
 * messageId; the services store a step's usage once, keyed by messageId (the largest count of each
 * kind, never a sum), so the step is counted once however many calls carry it. A call without a
 * messageId is a step of its own.
 *
 * A failure of the services (the trace cannot be started or finished) is thrown: when starting,
 * the tool has not run; when finishing, the trace stays running until the sweep marks it abandoned.
 * Usage the services would refuse is a ValidationError before anything starts.
 */
import { performance } from "node:perf_hooks";
import type { Services } from "../services/index.js";
import { tokensInput } from "../services/tokens.js";
import type { FinishTraceInput } from "../services/traces.js";
import { parseInput } from "../services/validation.js";
import { CommandCancelledError, CommandRefusedError } from "./command-errors.js";
import { capOutputText } from "./output-cap.js";
import { ToolError, ToolInputError, type AnyAgentTool, type ToolContext, type ToolResult } from "./tools/index.js";

/** The most the model is shown of one tool result, in UTF-8 bytes. */
export const TOOL_RESULT_CAP_BYTES = 32_768;

export type ToolCallStatus = "ok" | "error" | "timeout" | "cancelled";

export interface ToolCall {
  services: Pick<Services, "traces">;
  chatId: string;
  /** The agent's turn; the chat's next turn when not given. */
  turnNumber?: number;
  /** The model step (assistant message) that asked for the call. */
  messageId?: string;
  /** The model's id for the call: a retry with the same id and input returns the same trace. */
  toolCallId: string;
  /** Tracedeck's own agent: the agent run (process) that runs the call, stored on the trace. */
  ownerRunId?: string;
  tool: AnyAgentTool;
  /** The input as the model gave it: stored on the trace as toolInput, then validated by the tool. */
  input: unknown;
  ctx: ToolContext;
  /** The model step's token usage; pass it on every call of the step (it is stored once per step). */
  usage?: FinishTraceInput["tokens"];
}

export interface ToolCallOutcome {
  traceId: string;
  status: ToolCallStatus;
  /** What the model is shown (capped at TOOL_RESULT_CAP_BYTES). */
  output: string;
  /** Whether the output reports a failure rather than a result (every status but ok). */
  isError: boolean;
  /** The tool's run time, on the monotonic clock, in whole milliseconds. */
  latencyMs: number;
  /**
   * The tool's own result when it returned (whatever the status), for a caller that knows the tool
   * (e.g. the auto-fix loop reading a build's exit code); absent when the tool threw.
   */
  result?: ToolResult;
}

/** Errors whose message is a tool result for the model (it can do something about them). */
const isToolFailure = (error: unknown): error is Error => error instanceof ToolInputError || error instanceof ToolError || error instanceof CommandRefusedError;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error)) || "the tool failed without a message";

const flag = (result: unknown, name: "timedOut" | "cancelled" | "failed") => typeof result === "object" && result !== null && (result as Record<string, unknown>)[name] === true;

export async function runToolCall(call: ToolCall): Promise<ToolCallOutcome> {
  const { services, tool, ctx } = call;
  // Usage the finish would refuse is refused now, before a trace starts or the tool runs: otherwise
  // the trace would be left running (until the sweep) after the tool had done its work.
  if (call.usage !== undefined) parseInput(tokensInput, call.usage);
  const trace = await services.traces.start({
    chatId: call.chatId,
    toolName: tool.name,
    toolInput: call.input,
    toolCallId: call.toolCallId,
    messageId: call.messageId,
    turnNumber: call.turnNumber,
    ownerRunId: call.ownerRunId,
  });

  const started = performance.now();
  const elapsed = () => Math.max(0, Math.round(performance.now() - started));
  /** Finishes the trace; `stored` is the output kept on it (none for a failure: the error says it). */
  const finish = async (status: ToolCallStatus, shown: string, fields: { stored?: string; error?: string; result?: ToolResult }, latencyMs: number): Promise<ToolCallOutcome> => {
    await services.traces.finish({
      traceId: trace.id,
      output: fields.stored,
      error: fields.error,
      status: status === "timeout" || status === "cancelled" ? status : undefined,
      latencyMs,
      tokens: call.usage,
    });
    const outcome: ToolCallOutcome = { traceId: trace.id, status, output: capOutputText(shown, TOOL_RESULT_CAP_BYTES), isError: status !== "ok", latencyMs };
    if (fields.result !== undefined) outcome.result = fields.result;
    return outcome;
  };

  let result: Awaited<ReturnType<AnyAgentTool["run"]>>;
  try {
    result = await tool.run(call.input, ctx);
  } catch (error) {
    const latencyMs = elapsed();
    if (ctx.signal?.aborted || error instanceof CommandCancelledError) {
      const reason = ctx.signal?.aborted && ctx.signal.reason !== undefined ? `: ${messageOf(ctx.signal.reason)}` : "";
      const why = `${tool.name} was cancelled${reason}`;
      return finish("cancelled", why, { error: why }, latencyMs);
    }
    const message = messageOf(error);
    const outcome = await finish("error", message, { error: message }, latencyMs);
    if (isToolFailure(error)) return outcome;
    throw error;
  }
  const latencyMs = elapsed();
  const limit = (result as { timeoutMs?: unknown }).timeoutMs;
  if (flag(result, "timedOut")) {
    const why = `${tool.name} timed out${typeof limit === "number" ? ` after ${limit} ms` : ""}`;
    return finish("timeout", result.output, { stored: result.output, error: why, result }, latencyMs);
  }
  if (flag(result, "cancelled")) return finish("cancelled", result.output, { stored: result.output, error: `${tool.name} was cancelled`, result }, latencyMs);
  if (flag(result, "failed")) {
    const given = (result as { error?: unknown }).error;
    const why = typeof given === "string" && given !== "" ? given : `${tool.name} failed`;
    return finish("error", result.output, { stored: result.output, error: why, result }, latencyMs);
  }
  return finish("ok", result.output, { stored: result.output, result }, latencyMs);
}
