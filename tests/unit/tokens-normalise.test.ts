import { describe, expect, test } from "vitest";
import { z } from "zod";
import { isZero, type TokenCounts, tokensInput, tokensUsed, zeroTokens } from "../../server/services/tokens.js";

const parse = (value: unknown) => tokensInput.safeParse(value);
const ok = (value: unknown): TokenCounts => {
  const result = parse(value);
  if (!result.success) throw new Error(`expected success: ${JSON.stringify(result.error.issues)}`);
  return result.data;
};
const issues = (value: unknown) => {
  const result = parse(value);
  expect(result.success).toBe(false);
  return (result.error as z.ZodError).issues.map((i) => ({ path: i.path, message: i.message }));
};

describe("Tracedeck's own convention", () => {
  test("is taken as it is; missing counts are zero", () => {
    expect(ok({ input: 1, output: 2, cacheRead: 3, cacheWrite: 4, reasoning: 1 })).toEqual({ input: 1, output: 2, cacheRead: 3, cacheWrite: 4, reasoning: 1 });
    expect(ok({ output: 7 })).toEqual({ ...zeroTokens, output: 7 });
    expect(ok({})).toEqual(zeroTokens);
    expect(ok({ input: null, output: 5 })).toEqual({ ...zeroTokens, output: 5 });
  });

  test("tokensUsed = input + cacheRead + cacheWrite + output (reasoning is inside output)", () => {
    expect(tokensUsed({ input: 10, output: 20, cacheRead: 300, cacheWrite: 4000, reasoning: 15 })).toBe(4330);
    expect(isZero(zeroTokens)).toBe(true);
    expect(isZero({ ...zeroTokens, reasoning: 1 })).toBe(false);
  });

  test.each([
    ["a negative count", { input: -1 }, ["input"], "must not be negative"],
    ["a fractional count", { cacheWrite: 1.5 }, ["cacheWrite"], "must be a whole number"],
    ["a count beyond 32 bits", { cacheRead: 2 ** 31 }, ["cacheRead"], "must fit in 32 bits"],
    ["a count given as a string", { output: "5" }, ["output"], "must be a number"],
    ["reasoning beyond output", { output: 2, reasoning: 3 }, ["reasoning"], "must not exceed output, which includes reasoning"],
  ])("%s is refused", (_, value, path, message) => {
    expect(issues(value)).toContainEqual({ path, message });
  });

  test("an unknown key is refused rather than silently dropped", () => {
    expect(issues({ input: 1, tokens_used: 5 }).length).toBeGreaterThan(0);
    expect(issues({ prompt_tokens: 5, completion_tokens: 1 }).length).toBeGreaterThan(0);
  });

  test("something that is not an object is refused", () => {
    expect(parse(5).success).toBe(false);
    expect(parse("100").success).toBe(false);
    expect(parse([1, 2]).success).toBe(false);
  });
});

describe("OpenAI usage", () => {
  test("cached tokens are inside prompt_tokens: input excludes them, cacheRead holds them", () => {
    const t = ok({
      openai: {
        prompt_tokens: 2006,
        completion_tokens: 300,
        total_tokens: 2306,
        prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 192, audio_tokens: 0 },
      },
    });
    expect(t).toEqual({ input: 86, cacheRead: 1920, cacheWrite: 0, output: 300, reasoning: 192 });
    // Nothing counted twice: what was used is OpenAI's total.
    expect(tokensUsed(t)).toBe(2306);
  });

  test("without details there is nothing cached and no reasoning", () => {
    expect(ok({ openai: { prompt_tokens: 50, completion_tokens: 10 } })).toEqual({ input: 50, cacheRead: 0, cacheWrite: 0, output: 10, reasoning: 0 });
    expect(ok({ openai: { prompt_tokens: 50, completion_tokens: 10, prompt_tokens_details: null, completion_tokens_details: {} } })).toEqual({
      input: 50,
      cacheRead: 0,
      cacheWrite: 0,
      output: 10,
      reasoning: 0,
    });
  });

  test("all of the prompt cached leaves input at 0", () => {
    expect(ok({ openai: { prompt_tokens: 1024, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 1024 } } })).toMatchObject({ input: 0, cacheRead: 1024 });
  });

  test.each([
    ["cached beyond prompt", { prompt_tokens: 10, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 11 } }, ["openai", "prompt_tokens_details", "cached_tokens"]],
    ["reasoning beyond completion", { prompt_tokens: 10, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 6 } }, ["openai", "completion_tokens_details", "reasoning_tokens"]],
    ["negative prompt tokens", { prompt_tokens: -1, completion_tokens: 0 }, ["openai", "prompt_tokens"]],
    ["fractional completion tokens", { prompt_tokens: 1, completion_tokens: 0.5 }, ["openai", "completion_tokens"]],
    ["missing completion tokens", { prompt_tokens: 1 }, ["openai", "completion_tokens"]],
    ["negative cached tokens", { prompt_tokens: 1, completion_tokens: 1, prompt_tokens_details: { cached_tokens: -1 } }, ["openai", "prompt_tokens_details", "cached_tokens"]],
  ])("%s is refused, with the path into the provider's object", (_, usage, path) => {
    expect(issues({ openai: usage }).map((i) => i.path)).toContainEqual(path);
  });
});

describe("Anthropic usage", () => {
  test("cache reads and writes are apart from input_tokens and kept apart", () => {
    const t = ok({ anthropic: { input_tokens: 12, cache_creation_input_tokens: 2048, cache_read_input_tokens: 16384, output_tokens: 503 } });
    expect(t).toEqual({ input: 12, cacheWrite: 2048, cacheRead: 16384, output: 503, reasoning: 0 });
    expect(tokensUsed(t)).toBe(12 + 2048 + 16384 + 503);
  });

  test("without cache fields, or with them null, nothing was cached", () => {
    const expected = { input: 30, cacheRead: 0, cacheWrite: 0, output: 4, reasoning: 0 };
    expect(ok({ anthropic: { input_tokens: 30, output_tokens: 4 } })).toEqual(expected);
    expect(ok({ anthropic: { input_tokens: 30, output_tokens: 4, cache_read_input_tokens: null, cache_creation_input_tokens: null } })).toEqual(expected);
  });

  test.each([
    ["negative input", { input_tokens: -2, output_tokens: 1 }, ["anthropic", "input_tokens"]],
    ["fractional output", { input_tokens: 2, output_tokens: 1.1 }, ["anthropic", "output_tokens"]],
    ["negative cache writes", { input_tokens: 2, output_tokens: 1, cache_creation_input_tokens: -5 }, ["anthropic", "cache_creation_input_tokens"]],
    ["missing output", { input_tokens: 2 }, ["anthropic", "output_tokens"]],
  ])("%s is refused, with the path into the provider's object", (_, usage, path) => {
    expect(issues({ anthropic: usage }).map((i) => i.path)).toContainEqual(path);
  });
});

test("the same usage in each form gives the same normalised counts", () => {
  // 100 fresh input, 900 cache reads, 40 output of which 10 reasoning.
  const openai = ok({ openai: { prompt_tokens: 1000, completion_tokens: 40, prompt_tokens_details: { cached_tokens: 900 }, completion_tokens_details: { reasoning_tokens: 10 } } });
  const own = ok({ input: 100, cacheRead: 900, output: 40, reasoning: 10 });
  expect(openai).toEqual(own);
  const anthropic = ok({ anthropic: { input_tokens: 100, cache_read_input_tokens: 900, output_tokens: 40 } });
  expect(anthropic).toEqual({ ...own, reasoning: 0 });
  expect(tokensUsed(openai)).toBe(tokensUsed(anthropic));
});
