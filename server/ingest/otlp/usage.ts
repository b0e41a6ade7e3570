/**
 * An inference span's token usage (OpenTelemetry GenAI conventions) in Tracedeck's convention
 * (services/tokens.ts: input excludes cache reads and writes, output includes reasoning).
 *
 * The conventions count cache reads and writes inside gen_ai.usage.input_tokens and reasoning
 * inside gen_ai.usage.output_tokens, so they are taken out of input and left in output. Some
 * instrumentations (Anthropic-shaped ones, mostly with the older names) report input without the
 * cache: when the cache counts exceed input, input is taken as already excluding them; likewise
 * reasoning above output is added to it.
 */
import type { TokenCounts } from "../../services/tokens.js";
import { type Attributes, SpanProblem } from "./any-value.js";

/** Each count's attribute names, the current one first, then older spellings. */
export const USAGE_ATTRIBUTES = {
  input: ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
  output: ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"],
  cacheRead: ["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"],
  cacheWrite: ["gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"],
  reasoning: ["gen_ai.usage.reasoning.output_tokens"],
} as const;

/** The model_steps columns are 32-bit. */
const MAX_COUNT = 2_147_483_647;

function countOf(attributes: Attributes, names: readonly string[]): number | undefined {
  for (const name of names) {
    const value = attributes.get(name);
    if (value === undefined || value === null) continue;
    const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new SpanProblem(`${name} must be a whole number of tokens, not ${JSON.stringify(value)}`);
    if (n > MAX_COUNT) throw new SpanProblem(`${name} is ${n}; the most Tracedeck stores is ${MAX_COUNT}`);
    return n;
  }
  return undefined;
}

/** The span's usage, or undefined when it reports none. */
export function usageOf(attributes: Attributes): TokenCounts | undefined {
  const input = countOf(attributes, USAGE_ATTRIBUTES.input);
  const output = countOf(attributes, USAGE_ATTRIBUTES.output);
  const cacheRead = countOf(attributes, USAGE_ATTRIBUTES.cacheRead) ?? 0;
  const cacheWrite = countOf(attributes, USAGE_ATTRIBUTES.cacheWrite) ?? 0;
  const reasoning = countOf(attributes, USAGE_ATTRIBUTES.reasoning) ?? 0;
  if (input === undefined && output === undefined && cacheRead === 0 && cacheWrite === 0 && reasoning === 0) return undefined;
  const inputTotal = input ?? 0;
  const outputTotal = output ?? 0;
  const tokens: TokenCounts = {
    input: cacheRead + cacheWrite <= inputTotal ? inputTotal - cacheRead - cacheWrite : inputTotal,
    output: reasoning <= outputTotal ? outputTotal : outputTotal + reasoning,
    cacheRead,
    cacheWrite,
    reasoning,
  };
  if (tokens.output > MAX_COUNT) throw new SpanProblem(`output and reasoning tokens together pass ${MAX_COUNT}`);
  return tokens;
}
