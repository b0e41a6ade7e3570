/**
 * What every model provider implements: one model step. The conversation is in Tracedeck's
 * snapshot convention (README, "Snapshot state convention"): the same messages the agent saves at
 * every turn boundary, so a provider can be swapped between turns and a restored chat goes on.
 */
import type { TokenCounts } from "../../services/tokens.js";
import type { JsonSchema } from "../tools/tool.js";

export type ProviderName = "openai" | "anthropic" | "scripted";
export const PROVIDER_NAMES: readonly ProviderName[] = ["openai", "anthropic", "scripted"];

export type TextBlock = { type: "text"; text: string };
export type ToolUseBlock = { type: "tool_use"; id: string; name: string; input: unknown };
export type ToolResultBlock = { type: "tool_result"; tool_use_id: string; content: string; is_error?: boolean };
export type ContentBlock = TextBlock | ToolUseBlock | ToolResultBlock;

export interface ConversationMessage {
  role: "user" | "assistant";
  content: string | ContentBlock[];
}

/** A tool as the model sees it. */
export interface ToolSpec {
  name: string;
  description: string;
  inputSchema: JsonSchema;
}

export interface ModelRequest {
  model: string;
  system: string;
  messages: readonly ConversationMessage[];
  tools: readonly ToolSpec[];
  signal?: AbortSignal;
  /** The most output tokens the step may use. */
  maxOutputTokens?: number;
}

export interface ModelToolCall {
  /** The provider's id for the call (tool_use id / tool_call id). */
  id: string;
  name: string;
  /** The arguments as parsed JSON; arguments that are not JSON are passed as { invalidJson: "<text>" }. */
  input: unknown;
}

export interface ModelResponse {
  /** The provider's id of the assistant message: the model step's key for token usage. */
  messageId: string;
  /** The assistant's text ("" when it only called tools). */
  text: string;
  toolCalls: ModelToolCall[];
  /** Normalised as the services store it (services/tokens.ts). */
  usage: TokenCounts;
  /** The provider's stop/finish reason, as given. */
  stopReason: string;
}

export interface ModelProvider {
  readonly name: ProviderName;
  complete(request: ModelRequest): Promise<ModelResponse>;
}

/**
 * Why a model step failed, in words a user can act on. Never carries a key or a request body.
 * - missing_key: no API key is configured for the provider;
 * - auth: the provider refused the key (401/403);
 * - refused: the provider refused the request (4xx other than auth, or 5xx);
 * - unreachable: no answer (connection refused, DNS, timeout);
 * - bad_response: an answer that is not in the provider's documented format;
 * - script: the scripted provider's file is missing, malformed or played out;
 * - cancelled: the request was aborted by the turn's signal.
 */
export type ProviderErrorKind = "missing_key" | "auth" | "refused" | "unreachable" | "bad_response" | "script" | "cancelled";

export class ProviderError extends Error {
  override name = "ProviderError";
  constructor(
    readonly provider: ProviderName,
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** How a real provider is reached. */
export interface RemoteProviderConfig {
  apiKey?: string;
  /** Another server speaking the same API (for openai: Ollama, vLLM, LM Studio; they need no key). */
  baseURL?: string;
  /** How long one HTTP attempt may take. */
  timeoutMs: number;
  /** Retries after a connection error, 408/409/429 or 5xx (the SDK's policy); default 1. */
  maxRetries?: number;
}

/** Connection settings of the real providers and where scripted finds its files (from config). */
export interface ProviderConfig {
  openai: RemoteProviderConfig;
  anthropic: RemoteProviderConfig;
  /** The folder scripted reads `<model>.json` from: a chat names a script, never a path. */
  scriptsDir: string;
}
