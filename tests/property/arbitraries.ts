// Inputs a careless or hostile client sends, for the property suites: strings with lone surrogates
// and NUL, JSON of any shape and depth, date strings and Dates of every kind, token counts of
// every number. And an independent model of how the server stores text and JSON.
import fc from "fast-check";

/** One UTF-16 unit or code point: mostly ASCII, some of all Unicode, lone surrogates, NUL. */
const nastyUnit = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)) },
  { weight: 1, arbitrary: fc.constant("\u0000") },
);

export const nastyString = (maxLength = 16) => fc.string({ unit: nastyUnit, maxLength });

/**
 * An optional field: mostly absent, else the value. Each field bad on its own now and then, so a
 * whole input is still fine often enough for the success half of a property to be checked.
 */
export const sometimes = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

/** Mostly `usual`, now and then `odd`. */
export const mostly = <T, U>(usual: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) => fc.oneof({ weight: 4, arbitrary: usual }, { weight: 1, arbitrary: odd });

/** `leaf` wrapped `levels` deep in alternating arrays and objects, without recursion. */
export function nest(levels: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { k: value };
  return value;
}

/** JSON values of any shape with nasty strings, sometimes nested around the depth limit or far beyond it. */
export const nastyJson = (maxDeep = 600) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.jsonValue({ stringUnit: nastyUnit, maxDepth: 4 }) },
    { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 95, max: 105 }), fc.jsonValue({ maxDepth: 1 })).map(([levels, leaf]) => nest(levels, leaf)) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 106, max: maxDeep }), fc.jsonValue({ maxDepth: 1 })).map(([levels, leaf]) => nest(levels, leaf)) },
  );

/** A JSON object, the shape of a snapshot state, with secret-looking keys now and then. */
export const nastyState = fc.dictionary(
  fc.oneof(nastyString(12), fc.constantFrom("apiKey", "OPENAI_API_KEY", "token", "maxTokens", "password", "author", "x-api-key", "__proto__")),
  nastyJson(),
  { maxKeys: 6 },
);

const FIRST = new Date("0001-01-01T00:00:00.000Z");
const LAST = new Date("9999-12-31T23:59:59.999Z");
const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** A date string and, when it names one unambiguously, the instant it names. */
export interface DateText {
  text: string;
  instant?: Date;
}

export const dateText: fc.Arbitrary<DateText> = fc.oneof(
  // Valid and in range: the instant is known.
  fc.date({ min: FIRST, max: LAST, noInvalidDate: true }).map((d) => ({ text: d.toISOString(), instant: d })),
  // Any Date JS can hold, written by toISOString: years beyond 9999 and before 0001 too.
  fc.date({ noInvalidDate: true }).map((d) => ({ text: d.toISOString() })),
  // Calendar-shaped, every field possibly out of range, any zone or none, any fraction.
  fc
    .record({
      year: fc.integer({ min: 0, max: 9999 }),
      month: fc.integer({ min: 0, max: 13 }),
      day: fc.integer({ min: 0, max: 32 }),
      hour: fc.integer({ min: 0, max: 25 }),
      minute: fc.integer({ min: 0, max: 61 }),
      second: fc.integer({ min: 0, max: 61 }),
      fraction: fc.constantFrom("", ".5", ".123", ".123456789", "."),
      zone: fc.constantFrom("Z", "z", "+00:00", "-00:00", "+05:30", "-23:59", "+24:00", "+01:60", "", "+0100"),
      separator: fc.constantFrom("T", "t", " "),
    })
    .map((f) => ({ text: `${pad(f.year, 4)}-${pad(f.month, 2)}-${pad(f.day, 2)}${f.separator}${pad(f.hour, 2)}:${pad(f.minute, 2)}:${pad(f.second, 2)}${f.fraction}${f.zone}` })),
  nastyString(30).map((text) => ({ text })),
);

/** Any Date, valid or not, near and far beyond the storable range. */
export const anyDate = fc.oneof(
  fc.date({ noInvalidDate: false }),
  fc.constantFrom(FIRST, LAST, new Date(FIRST.getTime() - 1), new Date(LAST.getTime() + 1), new Date(8.64e15), new Date(-8.64e15), new Date(0)),
);

/** A token count as a client may send it: negative, fractional, huge, 32-bit edges, NaN. */
export const anyCount = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 100_000 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(-1, -0, 2 ** 31 - 1, 2 ** 31, 2 ** 53, 1e20, Number.NaN, Number.POSITIVE_INFINITY, 0.5) },
);

/** Token usage in each form the API takes, and forms it does not. */
export const anyTokens = fc.oneof(
  fc.record({ input: anyCount, output: anyCount, cacheRead: anyCount, cacheWrite: anyCount, reasoning: anyCount }, { requiredKeys: [] }),
  fc.record({
    openai: fc.oneof(
      fc.record({ prompt_tokens: anyCount, completion_tokens: anyCount, prompt_tokens_details: fc.record({ cached_tokens: anyCount }), completion_tokens_details: fc.record({ reasoning_tokens: anyCount }) }, { requiredKeys: ["prompt_tokens", "completion_tokens"] }),
      nastyJson(200),
    ),
  }),
  fc.record({ anthropic: fc.record({ input_tokens: anyCount, output_tokens: anyCount, cache_read_input_tokens: anyCount, cache_creation_input_tokens: anyCount }, { requiredKeys: [] }) }),
  fc.record({ input: anyCount, openai: fc.record({ prompt_tokens: anyCount, completion_tokens: anyCount }) }),
);

/** The model: text as stored (lone surrogates and NUL as U+FFFD). Written apart from the server's code on purpose. */
export function storedText(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const isHigh = unit >= 0xd800 && unit <= 0xdbff;
    const next = text.charCodeAt(i + 1);
    if (isHigh && next >= 0xdc00 && next <= 0xdfff) {
      out += text[i]! + text[i + 1]!;
      i++;
    } else if ((unit >= 0xd800 && unit <= 0xdfff) || unit === 0) out += "\uFFFD";
    else out += text[i]!;
  }
  return out;
}

/** The model: a JSON value as stored ("__proto__" keys left out: Prisma drops them). */
export function storedJson(value: unknown): unknown {
  if (typeof value === "string") return storedText(value);
  if (typeof value === "number") return value === 0 ? 0 : value;
  if (Array.isArray(value)) return value.map(storedJson);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== "__proto__").map(([k, v]) => [storedText(k), storedJson(v)]));
  }
  return value;
}

/** The model: a toolInput as stored (absent or null is {}). */
export function storedToolInput(value: unknown): unknown {
  return value === undefined || value === null ? {} : storedJson(value);
}

/** A bare number the server must refuse as toolInput: more digits than Prisma keeps for one. */
export const tooPreciseBareNumber = (value: unknown) => typeof value === "number" && Number(value.toPrecision(16)) !== value;

/** Deepest nesting of a JSON value (objects and arrays count one level each), without recursion. */
export function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    deepest = Math.max(deepest, d + 1);
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return deepest;
}
