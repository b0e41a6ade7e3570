/**
 * One turn of the agent: send the conversation to the model, run the tool calls it returns through
 * the tool phase, feed the results back, and repeat until the model answers without tool calls, the
 * step limit is reached, the provider fails or the turn is cancelled.
 *
 * Everything the turn writes goes through the services: traces (tool phase), what the assistant
 * says and what went wrong (agentTurns.say), and the file journal for rewind. The caller starts and
 * finishes the turn and saves the snapshot.
 */
import type { Services } from "../services/index.js";
import { type TokenCounts, zeroTokens } from "../services/tokens.js";
import { type ToolCallOutcome, runToolCall } from "./tool-phase.js";
import { workspaceMoved } from "./workspace-setting.js";
import { stat } from "node:fs/promises";
import { readRegularFile } from "./tools/files.js";
import { type AnyAgentTool, ToolError, type ToolContext, resolveToolPath } from "./tools/index.js";
import { ProviderError, type ContentBlock, type ConversationMessage, type ModelProvider, type ModelResponse } from "./providers/provider.js";

/** The tools whose changes the file journal records and after which the build runs. */
export const WRITE_TOOL_NAMES = new Set(["write_file", "edit_file"]);

export const SYSTEM_PROMPT = [
  "You are a coding agent working in a project folder (the workspace).",
  "Use the tools to read, change and check files; paths are relative to the workspace.",
  "run_command runs one program with an argument array (no shell: no pipes, redirections or globbing).",
  "When you are done, answer with a short summary of what you changed and why.",
].join(" ");

export interface TurnInput {
  services: Pick<Services, "traces" | "agentTurns" | "fileJournal">;
  chatId: string;
  turnNumber: number;
  /** The process that runs the turn: its traces are abandoned if it dies. */
  ownerRunId: string;
  provider: ModelProvider;
  model: string;
  /** The conversation so far, ending with the message that starts this turn. */
  messages: readonly ConversationMessage[];
  tools: readonly AnyAgentTool[];
  /** The tools' context; its signal cancels the turn. */
  ctx: ToolContext & { signal: AbortSignal };
  maxSteps: number;
  /** The file journal's setting of this chat (its workspace setting) and its size limit. */
  journal: { workspace: string; maxFileBytes: number };
}

export type TurnStatus = "ok" | "error" | "cancelled";

export interface TurnResult {
  status: TurnStatus;
  /** The conversation at the end of the turn (every tool_use answered). */
  messages: ConversationMessage[];
  steps: number;
  tokens: TokenCounts;
  /** Whether a write tool changed a file (then the build runs). */
  wroteFiles: boolean;
  outcome: string;
  error?: string;
}

const addTokens = (a: TokenCounts, b: TokenCounts): TokenCounts => ({
  input: a.input + b.input,
  output: a.output + b.output,
  cacheRead: a.cacheRead + b.cacheRead,
  cacheWrite: a.cacheWrite + b.cacheWrite,
  reasoning: a.reasoning + b.reasoning,
});

/** A tool the model named that does not exist: traced like any call, as an error the model can read. */
function unknownTool(name: string, tools: readonly AnyAgentTool[]): AnyAgentTool {
  return {
    name,
    description: "",
    inputSchema: { type: "object" },
    run: async () => {
      throw new ToolError("UNKNOWN_TOOL", `there is no tool named ${JSON.stringify(name)}; the tools are ${tools.map((t) => t.name).join(", ")}`);
    },
  };
}

/** A call refused before it runs (the workspace moved), traced like any call. */
function refusingTool(name: string, why: string): AnyAgentTool {
  return {
    name,
    description: "",
    inputSchema: { type: "object" },
    run: async () => {
      throw new ToolError("WORKSPACE_MOVED", why);
    },
  };
}

const cancelReason = (signal: AbortSignal) => (signal.reason instanceof Error ? signal.reason.message : typeof signal.reason === "string" ? signal.reason : "cancelled");

export async function runTurn(input: TurnInput): Promise<TurnResult> {
  const { services, chatId, turnNumber, provider, ctx } = input;
  const messages: ConversationMessage[] = [...input.messages];
  const specs = input.tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema }));
  const byName = new Map(input.tools.map((t) => [t.name, t]));
  let tokens = { ...zeroTokens };
  let wroteFiles = false;
  const end = (status: TurnStatus, steps: number, outcome: string, error?: string): TurnResult => ({ status, messages, steps, tokens, wroteFiles, outcome, error });

  for (let step = 1; step <= input.maxSteps; step++) {
    if (ctx.signal.aborted) return end("cancelled", step - 1, `cancelled: ${cancelReason(ctx.signal)}`);
    let response: ModelResponse;
    try {
      response = await provider.complete({ model: input.model, system: SYSTEM_PROMPT, messages, tools: specs, signal: ctx.signal });
    } catch (error) {
      if (ctx.signal.aborted || (error instanceof ProviderError && error.kind === "cancelled")) return end("cancelled", step - 1, `cancelled: ${cancelReason(ctx.signal)}`);
      // The provider's message is written for a person (no key, no body); anything else is a bug.
      const message = error instanceof ProviderError ? `${error.provider}: ${error.message}` : `the model request failed: ${(error as Error).message}`;
      await services.agentTurns.say({ chatId, turnNumber, kind: "error", text: message });
      return end("error", step - 1, "the model request failed", message);
    }
    tokens = addTokens(tokens, response.usage);
    const blocks: ContentBlock[] = [];
    if (response.text) blocks.push({ type: "text", text: response.text });
    for (const call of response.toolCalls) blocks.push({ type: "tool_use", id: call.id, name: call.name, input: call.input });
    messages.push({ role: "assistant", content: blocks.length ? blocks : [{ type: "text", text: "" }] });
    if (response.text) await services.agentTurns.say({ chatId, turnNumber, kind: "assistant", text: response.text });
    if (response.toolCalls.length === 0) return end("ok", step, step === 1 ? "answered" : `answered after ${step} steps`);

    const results: ContentBlock[] = [];
    let cancelled = false;
    for (const call of response.toolCalls) {
      if (ctx.signal.aborted) {
        cancelled = true;
        results.push({ type: "tool_result", tool_use_id: call.id, content: "not run: the turn was cancelled", is_error: true });
        continue;
      }
      const moved = workspaceMoved(ctx.workspace);
      const tool = moved ? refusingTool(call.name, moved) : (byName.get(call.name) ?? unknownTool(call.name, input.tools));
      if (WRITE_TOOL_NAMES.has(tool.name)) await journalBeforeWrite(input, call.input);
      const outcome: ToolCallOutcome = await runToolCall({
        services,
        chatId,
        turnNumber,
        // Provider ids repeat across a restore (a scripted step plays again): the turn makes them unique.
        messageId: `turn-${turnNumber}/${response.messageId}`,
        toolCallId: `turn-${turnNumber}/${call.id}`,
        ownerRunId: input.ownerRunId,
        tool,
        input: call.input,
        ctx,
        usage: response.usage,
      });
      if (WRITE_TOOL_NAMES.has(tool.name) && outcome.status === "ok") wroteFiles = true;
      if (outcome.status === "cancelled") cancelled = true;
      results.push({ type: "tool_result", tool_use_id: call.id, content: outcome.output, is_error: outcome.isError });
    }
    messages.push({ role: "user", content: results });
    if (cancelled || ctx.signal.aborted) return end("cancelled", step, `cancelled: ${cancelReason(ctx.signal)}`);
  }
  const error = `stopped at the step limit: ${input.maxSteps} model steps without a final answer`;
  await services.agentTurns.say({ chatId, turnNumber, kind: "error", text: error });
  return end("error", input.maxSteps, "step limit reached", error);
}

/**
 * Journals a file's content before a write tool changes it (the first write of the turn wins), so
 * that a restore can put it back. A path the guard refuses is not journaled: the tool refuses it too.
 */
async function journalBeforeWrite(input: TurnInput, toolInput: unknown): Promise<void> {
  const target = (toolInput as { path?: unknown } | null)?.path;
  if (typeof target !== "string" || target === "") return;
  let resolved;
  try {
    resolved = resolveToolPath(input.ctx, target);
  } catch {
    return;
  }
  const entry = { chatId: input.chatId, turnNumber: input.turnNumber, workspace: input.journal.workspace, path: resolved.display };
  // A file over the journal's limit is recorded as such without being read into memory.
  const found = await stat(resolved.real).catch(() => null);
  if (found?.isFile() && found.size > input.journal.maxFileBytes) {
    await input.services.fileJournal.record({ ...entry, previous: null, tooLargeBytes: found.size });
    return;
  }
  let read: { bytes: Buffer; mode: number } | null;
  try {
    read = await readRegularFile(resolved.real, resolved.display, true);
  } catch {
    return; // a directory or unreadable: the tool will say so, and writes nothing
  }
  await input.services.fileJournal.record({ ...entry, previous: read?.bytes ?? null, mode: read ? read.mode & 0o7777 : undefined });
}
