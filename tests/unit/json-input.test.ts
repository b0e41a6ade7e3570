import { describe, expect, test } from "vitest";
import { ValidationError } from "../../server/errors.js";
import { jsonValue, MAX_JSON_DEPTH, parseInput, storableText } from "../../server/services/validation.js";
import { z } from "zod";

const field = z.object({ toolInput: jsonValue("toolInput", 1_000_000) });
const parse = (toolInput: unknown) => parseInput(field, { toolInput }).toolInput;
const issuesOf = (toolInput: unknown) => {
  try {
    parse(toolInput);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues;
  }
  throw new Error("expected a ValidationError");
};

/** Arrays nested `levels` deep around 1, built without recursion. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe("storable text", () => {
  test("NUL and lone surrogates become U+FFFD; pairs and everything else are kept", () => {
    expect(storableText("a\u0000b")).toBe("a\uFFFDb");
    expect(storableText("x\uD800")).toBe("x\uFFFD");
    expect(storableText("\uDC00y")).toBe("\uFFFDy");
    expect(storableText("\uDC00\uD800")).toBe("\uFFFD\uFFFD");
    expect(storableText("😀 é \u0001")).toBe("😀 é \u0001");
  });

  test("in keys and values of any depth", () => {
    expect(parse({ "k\uD83D": ["v\u0000", { "\uDE00": "\uD83D\uDE00" }] })).toEqual({ "k\uFFFD": ["v\uFFFD", { "\uFFFD": "😀" }] });
  });
});

describe("nesting", () => {
  test(`${MAX_JSON_DEPTH} levels are accepted, one more is refused naming the field and the depth`, () => {
    expect(parse(nested(MAX_JSON_DEPTH))).toEqual(nested(MAX_JSON_DEPTH));
    expect(issuesOf(nested(MAX_JSON_DEPTH + 1))).toEqual([{ path: ["toolInput"], message: `is nested ${MAX_JSON_DEPTH + 1} levels deep; the limit is ${MAX_JSON_DEPTH}` }]);
  });

  test("5,000 and 100,000 levels are a ValidationError, not a stack overflow", () => {
    expect(issuesOf(nested(5000))).toEqual([{ path: ["toolInput"], message: `is nested 5000 levels deep; the limit is ${MAX_JSON_DEPTH}` }]);
    expect(issuesOf(nested(100_000))[0]!.message).toBe(`is nested 100000 levels deep; the limit is ${MAX_JSON_DEPTH}`);
  });

  test("a cycle is refused where it closes", () => {
    const a: Record<string, unknown> = { b: { c: [] } };
    ((a.b as Record<string, unknown>).c as unknown[]).push(a);
    expect(issuesOf(a)).toEqual([{ path: ["toolInput", "b", "c", 0], message: "contains itself; JSON cannot hold a cycle" }]);
  });

  test("a subtree shared many times is bounded by the size limit instead of walked exponentially", () => {
    let shared: unknown = ["x"];
    for (let i = 0; i < 60; i++) shared = [shared, shared];
    const small = z.object({ toolInput: jsonValue("toolInput", 1024) });
    expect(() => parseInput(small, { toolInput: shared })).toThrow("toolInput is more than 1024 bytes of JSON; the limit is 1024");
  });
});

describe("values JSON cannot hold", () => {
  test.each([
    [{ a: Number.NaN }, ["toolInput", "a"], "must be a finite number, not NaN"],
    [{ a: [1, Number.POSITIVE_INFINITY] }, ["toolInput", "a", 1], "must be a finite number, not Infinity"],
    [{ a: 10n }, ["toolInput", "a"], "is a bigint, which JSON cannot hold"],
    [{ f: () => 1 }, ["toolInput", "f"], "is a function, which JSON cannot hold"],
    [[Symbol("s")], ["toolInput", 0], "is a symbol, which JSON cannot hold"],
  ])("%o", (value, path, message) => {
    expect(issuesOf(value)).toEqual([{ path, message }]);
  });

  test("as JSON writes them: toJSON applied, undefined left out (null in a list), -0 as 0", () => {
    expect(parse({ at: new Date("2026-01-02T03:04:05.678Z"), gone: undefined, list: [undefined, -0] })).toEqual({ at: "2026-01-02T03:04:05.678Z", list: [null, 0] });
    expect(Object.is((parse([-0]) as number[])[0], 0)).toBe(true);
  });

  test('a "__proto__" key is left out, at any depth, as Prisma would drop it: what is returned is what is stored', () => {
    const parsed = parse(JSON.parse('{"__proto__": {"x": 1}, "d": [{"__proto__": 1, "e": 2}]}'));
    expect(parsed).toEqual({ d: [{ e: 2 }] });
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });
});
