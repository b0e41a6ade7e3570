/**
 * The Anthropic provider: one non-streaming Messages call per model step, through
 * `@anthropic-ai/sdk`. The conversation convention is Anthropic's own message format, so the
 * conversion is a copy that keeps only the fields the convention has. The package is imported on the
 * provider's first request, not when the server starts.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { z } from "zod";
import { tokensInput, type TokenCounts } from "../../services/tokens.js";
import {
  badResponseError,
  configuredKey,
  describeIssues,
  DEFAULT_BASE_URLS,
  missingKeyError,
  type SdkErrorClasses,
  toProviderError,
} from "./errors.js";
import type { ConversationMessage, ModelProvider, ModelRequest, ModelResponse, ModelToolCall, ProviderConfig } from "./provider.js";

export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;
const DEFAULT_MAX_RETRIES = 1;

type MessageCreateParams = Anthropic.MessageCreateParamsNonStreaming;
type MessageParam = Anthropic.MessageParam;
type ContentBlockParam = Anthropic.ContentBlockParam;

type AnthropicSdk = typeof import("@anthropic-ai/sdk");

let sdkLoading: Promise<AnthropicSdk> | undefined;

/** `@anthropic-ai/sdk`, imported once per process on first use (a failed import is tried again next time). */
function loadSdk(): Promise<AnthropicSdk> {
  sdkLoading ??= import("@anthropic-ai/sdk").catch((error: unknown) => {
    sdkLoading = undefined;
    throw error;
  });
  return sdkLoading;
}

export function createAnthropicProvider(config: ProviderConfig["anthropic"]): ModelProvider {
  const apiKey = configuredKey(config.apiKey);
  const baseURL = config.baseURL?.trim() ? config.baseURL.trim() : DEFAULT_BASE_URLS.anthropic;
  // Made on the first request, once the SDK is loaded.
  let client: Anthropic | undefined;
  let sdk: SdkErrorClasses | undefined;

  return {
    name: "anthropic",
    async complete(request: ModelRequest): Promise<ModelResponse> {
      if (apiKey === undefined) throw missingKeyError("anthropic");
      const ctx = { baseURL, apiKey, timeoutMs: config.timeoutMs, signal: request.signal };
      if (request.signal?.aborted) throw toProviderError("anthropic", request.signal.reason, ctx, sdk);
      let message: unknown;
      try {
        if (!client) {
          const loaded = await loadSdk();
          sdk = loaded;
          client = new loaded.default({
            // An explicit key: the SDK then reads no other credential (ANTHROPIC_AUTH_TOKEN, profiles).
            apiKey,
            // Explicit, so ANTHROPIC_BASE_URL in the environment plays no part.
            baseURL,
            timeout: config.timeoutMs,
            maxRetries: config.maxRetries ?? DEFAULT_MAX_RETRIES,
          });
        }
        message = await client.messages.create(toMessagesRequest(request), { signal: request.signal });
      } catch (error) {
        throw toProviderError("anthropic", error, ctx, sdk);
      }
      return fromMessage(message, apiKey);
    },
  };
}

/** The request body for a model step (exported for tests and debugging). */
export function toMessagesRequest(request: ModelRequest): MessageCreateParams {
  const body: MessageCreateParams = {
    model: request.model,
    max_tokens: request.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
    messages: toAnthropicMessages(request.messages),
  };
  if (request.system) body.system = request.system;
  if (request.tools.length > 0)
    body.tools = request.tools.map((tool) => ({
      name: tool.name,
      description: tool.description,
      input_schema: { type: "object", ...tool.inputSchema } as Anthropic.Tool.InputSchema,
    }));
  return body;
}

export function toAnthropicMessages(messages: readonly ConversationMessage[]): MessageParam[] {
  return messages.map((message): MessageParam => {
    if (typeof message.content === "string") return { role: message.role, content: message.content };
    const blocks = message.content.map((block): ContentBlockParam => {
      switch (block.type) {
        case "text":
          return { type: "text", text: block.text };
        case "tool_use":
          return { type: "tool_use", id: block.id, name: block.name, input: asObject(block.input) };
        case "tool_result":
          return {
            type: "tool_result",
            tool_use_id: block.tool_use_id,
            content: block.content,
            ...(block.is_error ? { is_error: true } : {}),
          };
      }
    });
    // The API refuses empty text blocks; keep one only when it is all the message has.
    const kept = blocks.filter((block) => block.type !== "text" || block.text !== "");
    return { role: message.role, content: kept.length > 0 ? kept : blocks };
  });
}

/** A tool_use input must be an object; anything else (never from a model) is wrapped. */
function asObject(input: unknown): Record<string, unknown> {
  return typeof input === "object" && input !== null && !Array.isArray(input) ? (input as Record<string, unknown>) : { value: input };
}

/** The parts of a message the provider reads; other block types (thinking, …) are skipped. */
const messageSchema = z.object({
  id: z.string().min(1),
  content: z.array(
    z.looseObject({ type: z.string(), text: z.string().optional(), id: z.string().optional(), name: z.string().optional(), input: z.unknown().optional() }),
  ),
  stop_reason: z.string().nullish(),
  usage: z.unknown(),
});

/** A Messages answer as a ModelResponse (exported for tests). */
export function fromMessage(message: unknown, apiKey?: string): ModelResponse {
  const parsed = messageSchema.safeParse(message);
  if (!parsed.success) throw badResponseError("anthropic", describeIssues(parsed.error), apiKey);
  const texts: string[] = [];
  const toolCalls: ModelToolCall[] = [];
  for (const [index, block] of parsed.data.content.entries()) {
    if (block.type === "text") texts.push(block.text ?? "");
    else if (block.type === "tool_use") {
      if (!block.id || !block.name) throw badResponseError("anthropic", `content.${index}: a tool_use block needs an id and a name`, apiKey);
      toolCalls.push({ id: block.id, name: block.name, input: block.input ?? {} });
    }
  }
  return {
    messageId: parsed.data.id,
    text: texts.join("\n\n"),
    toolCalls,
    usage: normaliseUsage(parsed.data.usage, apiKey),
    stopReason: parsed.data.stop_reason ?? "",
  };
}

function normaliseUsage(usage: unknown, apiKey?: string): TokenCounts {
  const parsed = tokensInput.safeParse({ anthropic: usage });
  if (!parsed.success) throw badResponseError("anthropic", `usage: ${describeIssues(parsed.error)}`, apiKey);
  return parsed.data;
}
