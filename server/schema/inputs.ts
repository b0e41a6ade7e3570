import { ValidationError } from "../errors.js";
import type { FinishTraceInput, StartTraceInput } from "../services/traces.js";
import { builder } from "./builder.js";
import { parseId } from "./ids.js";

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
type Fields = PothosSchemaTypes.InputFieldBuilder<Types, "InputObject">;

export const TokenUsageInput = builder.inputType("TokenUsageInput", {
  description:
    "Token usage in Tracedeck's convention (input excludes cache reads and writes; output includes reasoning), or a provider's raw usage object in `openai` or `anthropic`, normalised on the way in. Give one of the three forms.",
  fields: (t) => ({
    input: t.int({ required: false }),
    output: t.int({ required: false }),
    cacheRead: t.int({ required: false }),
    cacheWrite: t.int({ required: false }),
    reasoning: t.int({ required: false }),
    openai: t.field({ type: "JSON", required: false, description: "OpenAI's usage: prompt_tokens, completion_tokens and their details" }),
    anthropic: t.field({ type: "JSON", required: false, description: "Anthropic's usage: input_tokens, output_tokens, cache_*_input_tokens" }),
  }),
});

export const FinishStatusEnum = builder.enumType("FinishStatus", {
  description: "A status the caller may claim at finish; ok and error are derived from `error`",
  values: ["timeout", "cancelled"] as const,
});

type TokenUsage = typeof TokenUsageInput.$inferInput;

export function tokensArg(tokens: TokenUsage | null | undefined, path: (string | number)[]): unknown {
  if (!tokens) return undefined;
  const raw = tokens.openai != null ? "openai" : tokens.anthropic != null ? "anthropic" : undefined;
  const counts = Object.fromEntries(
    (["input", "output", "cacheRead", "cacheWrite", "reasoning"] as const).filter((k) => tokens[k] != null).map((k) => [k, tokens[k]]),
  );
  if (raw && (Object.keys(counts).length > 0 || (tokens.openai != null && tokens.anthropic != null))) {
    throw new ValidationError([{ path, message: "give counts, openai or anthropic: one form only" }]);
  }
  return raw ? { [raw]: tokens[raw] } : counts;
}

/** The fields of a trace's start, shared by startToolTrace and recordToolTraces. */
export function startFields(t: Fields) {
  return {
    chatId: t.id({ required: true, description: "The chat's global id or UUID" }),
    sessionId: t.string({ required: false, description: "Defaults to the chat's current session" }),
    messageId: t.string({ required: false }),
    toolCallId: t.string({ required: false, description: "The provider's call id: a retry with the same id is recognised" }),
    turnNumber: t.int({ required: false, description: "Defaults to the chat's next turn" }),
    toolName: t.string({ required: true }),
    toolInput: t.field({ type: "JSON", required: false }),
    startedAt: t.field({ type: "DateTime", required: false, description: "Defaults to the server's clock" }),
  };
}

/** The fields of a trace's finish, shared by finishToolTrace and recordToolTraces. */
export function finishFields(t: Fields) {
  return {
    finishedAt: t.field({ type: "DateTime", required: false }),
    latencyMs: t.int({ required: false, description: "Defaults to finishedAt - startedAt, never negative" }),
    output: t.string({ required: false, description: "Stored truncated, with a marker, above the output cap" }),
    error: t.string({ required: false }),
    outcome: t.string({ required: false, description: "A free-text label" }),
    status: t.field({ type: FinishStatusEnum, required: false }),
    tokens: t.field({ type: TokenUsageInput, required: false }),
  };
}

interface StartArgs {
  chatId: string | number;
  sessionId?: string | null;
  messageId?: string | null;
  toolCallId?: string | null;
  turnNumber?: number | null;
  toolName: string;
  toolInput?: unknown;
  startedAt?: Date | null;
}

interface FinishArgs {
  finishedAt?: Date | null;
  latencyMs?: number | null;
  output?: string | null;
  error?: string | null;
  outcome?: string | null;
  status?: "timeout" | "cancelled" | null;
  tokens?: TokenUsage | null;
}

export function startInput(args: StartArgs, path: (string | number)[] = []): StartTraceInput {
  return { ...args, toolInput: args.toolInput, chatId: parseId(String(args.chatId), "Chat", [...path, "chatId"]) };
}

export function finishInput(args: FinishArgs, path: (string | number)[] = []): Omit<FinishTraceInput, "traceId" | "chatId" | "toolCallId"> {
  // Only the finish fields: spreading every argument would put back a raw chatId (a global id) over
  // the one startInput parsed, when both are spread into one recordToolTraces item.
  const { finishedAt, latencyMs, output, error, outcome, status } = args;
  return { finishedAt, latencyMs, output, error, outcome, status, tokens: tokensArg(args.tokens, [...path, "tokens"]) as FinishTraceInput["tokens"] };
}
