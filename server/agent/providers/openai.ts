/**
 * The OpenAI provider: one non-streaming Chat Completions call per model step, through the official
 * `openai` package. Any server that speaks Chat Completions works through `baseURL` (Ollama, vLLM,
 * LM Studio); those need no key, so with a baseURL a missing key is replaced by a placeholder.
 * The package is imported on the provider's first request, not when the server starts.
 */
import type OpenAI from "openai";
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from "openai/resources/chat/completions";
import { z } from "zod";
import { tokensInput, zeroTokens, type TokenCounts } from "../../services/tokens.js";
import {
  badResponseError,
  configuredKey,
  describeIssues,
  DEFAULT_BASE_URLS,
  hostOf,
  missingKeyError,
  type SdkErrorClasses,
  toProviderError,
} from "./errors.js";
import type {
  ConversationMessage,
  ModelProvider,
  ModelRequest,
  ModelResponse,
  ModelToolCall,
  ProviderConfig,
  ToolSpec,
} from "./provider.js";

/** Sent as the key to servers that need none (with a baseURL and no OPENAI_API_KEY). */
export const PLACEHOLDER_API_KEY = "no-key-required";
const DEFAULT_MAX_RETRIES = 1;

type OpenAiSdk = typeof import("openai");

let sdkLoading: Promise<OpenAiSdk> | undefined;

/** The `openai` package, imported once per process on first use (a failed import is tried again next time). */
function loadSdk(): Promise<OpenAiSdk> {
  sdkLoading ??= import("openai").catch((error: unknown) => {
    sdkLoading = undefined;
    throw error;
  });
  return sdkLoading;
}

export function createOpenAiProvider(config: ProviderConfig["openai"]): ModelProvider {
  const baseURL = config.baseURL?.trim() ? config.baseURL.trim() : undefined;
  const key = configuredKey(config.apiKey);
  const apiKey = key ?? (baseURL ? PLACEHOLDER_API_KEY : undefined);
  const effectiveBaseURL = baseURL ?? DEFAULT_BASE_URLS.openai;
  // OpenAI's own API wants max_completion_tokens (max_tokens is refused by reasoning models);
  // compatible servers know max_tokens.
  const officialApi = hostOf(effectiveBaseURL) === "api.openai.com";
  // Made on the first request, once the SDK is loaded.
  let client: OpenAI | undefined;
  let sdk: SdkErrorClasses | undefined;

  return {
    name: "openai",
    async complete(request: ModelRequest): Promise<ModelResponse> {
      if (apiKey === undefined) throw missingKeyError("openai");
      const ctx = { baseURL: effectiveBaseURL, apiKey: key, timeoutMs: config.timeoutMs, signal: request.signal };
      if (request.signal?.aborted) throw toProviderError("openai", request.signal.reason, ctx, sdk);
      const body = toChatCompletionRequest(request, officialApi);
      let completion: unknown;
      try {
        if (!client) {
          const loaded = await loadSdk();
          sdk = loaded;
          client = new loaded.default({
            apiKey,
            // Explicit, so OPENAI_BASE_URL / OPENAI_ORG_ID / OPENAI_PROJECT_ID in the environment play no part.
            baseURL: effectiveBaseURL,
            organization: null,
            project: null,
            timeout: config.timeoutMs,
            maxRetries: config.maxRetries ?? DEFAULT_MAX_RETRIES,
          });
        }
        completion = await client.chat.completions.create(body, { signal: request.signal });
      } catch (error) {
        throw toProviderError("openai", error, ctx, sdk);
      }
      return fromChatCompletion(completion, key);
    },
  };
}

/** The request body for a model step (exported for tests and debugging). */
export function toChatCompletionRequest(request: ModelRequest, officialApi = true): ChatCompletionCreateParamsNonStreaming {
  const body: ChatCompletionCreateParamsNonStreaming = {
    model: request.model,
    messages: toChatMessages(request.system, request.messages),
  };
  if (request.tools.length > 0) {
    body.tools = request.tools.map(toFunctionTool);
    body.tool_choice = "auto";
  }
  if (request.maxOutputTokens !== undefined) {
    if (officialApi) body.max_completion_tokens = request.maxOutputTokens;
    else body.max_tokens = request.maxOutputTokens;
  }
  return body;
}

function toFunctionTool(tool: ToolSpec): ChatCompletionTool {
  return {
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema as Record<string, unknown> },
  };
}

/**
 * The conversation convention as Chat Completions messages: the system message first; a user
 * message's tool_result blocks become one `tool` message each (in order, so they follow the
 * assistant's tool_calls), then its text blocks one user message; an assistant message's tool_use
 * blocks become its tool_calls.
 */
export function toChatMessages(system: string, messages: readonly ConversationMessage[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  if (system) out.push({ role: "system", content: system });
  for (const message of messages) {
    if (typeof message.content === "string") {
      out.push({ role: message.role, content: message.content });
      continue;
    }
    const texts = message.content.flatMap((block) => (block.type === "text" ? [block.text] : []));
    if (message.role === "user") {
      for (const block of message.content) {
        if (block.type !== "tool_result") continue;
        // Chat Completions has no error flag on a tool message: the text says it.
        const content = block.is_error ? `Error: ${block.content}` : block.content;
        out.push({ role: "tool", tool_call_id: block.tool_use_id, content });
      }
      if (texts.length > 0) out.push({ role: "user", content: texts.join("\n\n") });
    } else {
      const toolCalls = message.content.flatMap((block) =>
        block.type === "tool_use"
          ? [{ id: block.id, type: "function" as const, function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } }]
          : [],
      );
      out.push({
        role: "assistant",
        content: texts.length > 0 ? texts.join("\n\n") : null,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      });
    }
  }
  return out;
}

/** The parts of a completion the provider reads; the rest may be anything. */
const completionSchema = z.object({
  id: z.string().min(1),
  choices: z
    .array(
      z.object({
        finish_reason: z.string().nullish(),
        message: z.object({
          content: z.string().nullish(),
          refusal: z.string().nullish(),
          tool_calls: z
            .array(
              z.object({
                id: z.string().min(1),
                type: z.string().optional(),
                function: z.object({ name: z.string().min(1), arguments: z.string().nullish() }).optional(),
                custom: z.object({ name: z.string().min(1), input: z.string().nullish() }).optional(),
              }),
            )
            .nullish(),
        }),
      }),
    )
    .min(1, "no choices"),
  usage: z.unknown().optional(),
});

/** A completion as a ModelResponse (exported for tests). */
export function fromChatCompletion(completion: unknown, apiKey?: string): ModelResponse {
  const parsed = completionSchema.safeParse(completion);
  if (!parsed.success) throw badResponseError("openai", describeIssues(parsed.error), apiKey);
  const { id, choices, usage } = parsed.data;
  const choice = choices[0]!;
  const toolCalls: ModelToolCall[] = [];
  for (const call of choice.message.tool_calls ?? []) {
    if (call.function) toolCalls.push({ id: call.id, name: call.function.name, input: parseArguments(call.function.arguments) });
    else if (call.custom) toolCalls.push({ id: call.id, name: call.custom.name, input: { invalidJson: call.custom.input ?? "" } });
    else throw badResponseError("openai", `tool call ${call.id} has neither a function nor a custom tool`, apiKey);
  }
  return {
    messageId: id,
    text: choice.message.content ?? choice.message.refusal ?? "",
    toolCalls,
    usage: normaliseUsage(usage, apiKey),
    stopReason: choice.finish_reason ?? "",
  };
}

/** Arguments as JSON; text that is not JSON is passed on as { invalidJson }. An empty text is no arguments. */
function parseArguments(text: string | null | undefined): unknown {
  if (text === null || text === undefined || text.trim() === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { invalidJson: text };
  }
}

function normaliseUsage(usage: unknown, apiKey?: string): TokenCounts {
  // Some compatible servers leave usage out: then the step counts nothing.
  if (usage === undefined || usage === null) return { ...zeroTokens };
  const parsed = tokensInput.safeParse({ openai: usage });
  if (!parsed.success) throw badResponseError("openai", `usage: ${describeIssues(parsed.error)}`, apiKey);
  return parsed.data;
}
