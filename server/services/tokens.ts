import { z } from "zod";
import { jsonProblem } from "./json.js";
import { count, MAX_JSON_DEPTH, optional } from "./validation.js";

/** Values a usage object may hold: a provider's usage is a few dozen; this only stops a flood. */
const MAX_USAGE_VALUES = 10_000;

/**
 * Tracedeck's token convention: input excludes cache reads and writes, output includes reasoning,
 * and tokensUsed = input + cacheRead + cacheWrite + output.
 */
export interface TokenCounts {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
}

export const zeroTokens: TokenCounts = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 };

/** OpenAI counts cached tokens inside prompt_tokens and reasoning inside completion_tokens. */
const openAiUsage = z
  .object({
    prompt_tokens: count,
    completion_tokens: count,
    prompt_tokens_details: optional(z.object({ cached_tokens: optional(count) })),
    completion_tokens_details: optional(z.object({ reasoning_tokens: optional(count) })),
  })
  .superRefine((u, ctx) => {
    if ((u.prompt_tokens_details?.cached_tokens ?? 0) > u.prompt_tokens)
      ctx.addIssue({ code: "custom", path: ["prompt_tokens_details", "cached_tokens"], message: "must not exceed prompt_tokens" });
    if ((u.completion_tokens_details?.reasoning_tokens ?? 0) > u.completion_tokens)
      ctx.addIssue({ code: "custom", path: ["completion_tokens_details", "reasoning_tokens"], message: "must not exceed completion_tokens" });
  })
  .transform(
    (u): TokenCounts => ({
      input: u.prompt_tokens - (u.prompt_tokens_details?.cached_tokens ?? 0),
      cacheRead: u.prompt_tokens_details?.cached_tokens ?? 0,
      cacheWrite: 0,
      output: u.completion_tokens,
      reasoning: u.completion_tokens_details?.reasoning_tokens ?? 0,
    }),
  );

/** Anthropic reports cache reads and writes apart from input_tokens; thinking is inside output_tokens. */
const anthropicUsage = z
  .object({
    input_tokens: count,
    output_tokens: count,
    cache_read_input_tokens: optional(count),
    cache_creation_input_tokens: optional(count),
  })
  .transform(
    (u): TokenCounts => ({
      input: u.input_tokens,
      cacheRead: u.cache_read_input_tokens ?? 0,
      cacheWrite: u.cache_creation_input_tokens ?? 0,
      output: u.output_tokens,
      reasoning: 0,
    }),
  );

const normalised = z
  .strictObject({
    input: optional(count),
    output: optional(count),
    cacheRead: optional(count),
    cacheWrite: optional(count),
    reasoning: optional(count),
  })
  .superRefine((t, ctx) => {
    if ((t.reasoning ?? 0) > (t.output ?? 0))
      ctx.addIssue({ code: "custom", path: ["reasoning"], message: "must not exceed output, which includes reasoning" });
  })
  .transform(
    (t): TokenCounts => ({
      input: t.input ?? 0,
      output: t.output ?? 0,
      cacheRead: t.cacheRead ?? 0,
      cacheWrite: t.cacheWrite ?? 0,
      reasoning: t.reasoning ?? 0,
    }),
  );

/**
 * Token usage as a caller may give it: already in Tracedeck's convention, or a provider's raw usage
 * object under `openai` or `anthropic`, normalised on the way in.
 */
export const tokensInput = z.unknown().transform((value, ctx): TokenCounts => {
  // Checked like every JSON input, before anything walks it.
  const problem = jsonProblem(value, MAX_JSON_DEPTH, MAX_USAGE_VALUES);
  if (problem) {
    ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
    return z.NEVER;
  }
  const record = typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  const key = record && "openai" in record ? "openai" : record && "anthropic" in record ? "anthropic" : undefined;
  const schema = key === "openai" ? openAiUsage : key === "anthropic" ? anthropicUsage : normalised;
  const parsed = schema.safeParse(key ? record![key] : value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    ctx.addIssue({ code: "custom", path: key ? [key, ...path] : path, message: issue.message });
  }
  return z.NEVER;
});

export function tokensUsed(t: TokenCounts): number {
  return t.input + t.cacheRead + t.cacheWrite + t.output;
}

export function isZero(t: TokenCounts): boolean {
  return t.input === 0 && t.output === 0 && t.cacheRead === 0 && t.cacheWrite === 0 && t.reasoning === 0;
}
