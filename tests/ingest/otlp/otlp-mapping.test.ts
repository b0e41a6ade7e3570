// The OTLP ingest's pure parts: reading OTLP/JSON spans (ids in hex or base64, int64 as text or
// number, nested values), usage normalised to Tracedeck's convention (cache inside input_tokens
// taken out, reasoning kept inside output, older attribute names), what becomes a tool call and how
// its status reads, and which model step a call is joined to.
import { describe, expect, test } from "vitest";
import { SpanProblem } from "../../../server/ingest/otlp/any-value.js";
import { classify } from "../../../server/ingest/otlp/mapping.js";
import { type OtlpSpan, readSpans } from "../../../server/ingest/otlp/spans.js";
import { createStepIndex } from "../../../server/ingest/otlp/steps.js";
import { usageOf } from "../../../server/ingest/otlp/usage.js";

const TRACE = "5b8efff798038103d269b633813fc60c";
const attrs = (values: Record<string, unknown>) => new Map(Object.entries(values)) as OtlpSpan["attributes"];
const span = (attributes: Record<string, unknown>, extra: Partial<OtlpSpan> = {}): OtlpSpan => ({
  traceId: TRACE,
  spanId: "00000000000000aa",
  parentSpanId: undefined,
  name: "s",
  startNs: 1_700_000_000_000_000_000n,
  endNs: 1_700_000_000_250_000_000n,
  attributes: attrs(attributes),
  resource: attrs({ "service.name": "svc" }),
  status: { code: 0, message: "" },
  ...extra,
});

describe("reading OTLP/JSON", () => {
  test("ids in hex (any case) or base64, times as text or numbers, every AnyValue kind", () => {
    const { spans, rejected } = readSpans(
      {
        resourceSpans: [
          {
            resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] },
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: TRACE.toUpperCase(),
                    spanId: Buffer.from("0102030405060708", "hex").toString("base64"),
                    parentSpanId: "",
                    startTimeUnixNano: 1_700_000_000_000_000,
                    endTimeUnixNano: "1700000000000000001",
                    status: { code: 2, message: "boom" },
                    attributes: [
                      { key: "i", value: { intValue: "9007199254740993" } },
                      { key: "n", value: { intValue: 7 } },
                      { key: "d", value: { doubleValue: "NaN" } },
                      { key: "b", value: { boolValue: false } },
                      { key: "bytes", value: { bytesValue: "aGk=" } },
                      { key: "list", value: { arrayValue: { values: [{ stringValue: "a" }, { intValue: "1" }] } } },
                      { key: "obj", value: { kvlistValue: { values: [{ key: "k", value: { kvlistValue: { values: [] } } }] } } },
                      { key: "empty", value: {} },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      },
      "json",
    );
    expect(rejected).toEqual([]);
    const [s] = spans;
    expect(s).toMatchObject({ traceId: TRACE, spanId: "0102030405060708", parentSpanId: undefined, startNs: 1_700_000_000_000_000n, endNs: 1_700_000_000_000_000_001n, status: { code: 2, message: "boom" } });
    expect(Object.fromEntries(s!.attributes)).toEqual({ i: "9007199254740993", n: 7, d: "NaN", b: false, bytes: "aGk=", list: ["a", 1], obj: { k: {} }, empty: null });
    expect(s!.resource.get("service.name")).toBe("svc");
  });

  test("a span that cannot be read is rejected alone, named by the ids that do read", () => {
    const good = { traceId: TRACE, spanId: "00000000000000aa" };
    const { spans, rejected } = readSpans(
      {
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  good,
                  { traceId: TRACE, spanId: "0000000000000000" },
                  { traceId: TRACE },
                  { traceId: TRACE, spanId: "00000000000000ab", startTimeUnixNano: "-1" },
                  { traceId: TRACE, spanId: "00000000000000ac", status: { code: 7 } },
                  { traceId: TRACE, spanId: "00000000000000ad", attributes: [{ value: { stringValue: "x" } }] },
                  "not a span",
                ],
              },
            ],
          },
        ],
      },
      "json",
    );
    expect(spans.map((s) => s.spanId)).toEqual(["00000000000000aa"]);
    expect(rejected).toEqual([
      { traceId: TRACE, spanId: undefined, reason: "spanId is all zeros, which is not a valid id" },
      { traceId: TRACE, spanId: undefined, reason: "spanId is missing" },
      { traceId: TRACE, spanId: "00000000000000ab", reason: 'startTimeUnixNano "-1" is not unix nanoseconds' },
      { traceId: TRACE, spanId: "00000000000000ac", reason: "status.code 7 is not 0 (unset), 1 (ok) or 2 (error)" },
      { traceId: TRACE, spanId: "00000000000000ad", reason: "attributes[0] needs a string key" },
      { reason: "a span must be an object" },
    ]);
  });

  test("protobuf ids arrive as base64: hex text there is not an id", () => {
    const { rejected } = readSpans({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: TRACE, spanId: "00000000000000aa" }] }] }] }, "protobuf");
    expect(rejected[0]!.reason).toMatch(/^traceId "5b8e.*" is not 16 bytes in base64$/);
  });
});

describe("usage", () => {
  test("cache reads and writes are inside gen_ai.usage.input_tokens: taken out; reasoning stays inside output", () => {
    expect(
      usageOf(
        attrs({
          "gen_ai.usage.input_tokens": 1_500,
          "gen_ai.usage.cache_read.input_tokens": 1_000,
          "gen_ai.usage.cache_creation.input_tokens": 200,
          "gen_ai.usage.output_tokens": 120,
          "gen_ai.usage.reasoning.output_tokens": 40,
        }),
      ),
    ).toEqual({ input: 300, cacheRead: 1_000, cacheWrite: 200, output: 120, reasoning: 40 });
  });

  test("the older names count the same", () => {
    expect(
      usageOf(attrs({ "gen_ai.usage.prompt_tokens": 500, "gen_ai.usage.completion_tokens": 20, "gen_ai.usage.cache_read_input_tokens": 300, "gen_ai.usage.cache_creation_input_tokens": 100 })),
    ).toEqual({ input: 100, cacheRead: 300, cacheWrite: 100, output: 20, reasoning: 0 });
  });

  test("cache counts above input mean input was reported without them; reasoning above output was left out of it", () => {
    expect(usageOf(attrs({ "gen_ai.usage.input_tokens": 12, "gen_ai.usage.cache_read_input_tokens": 9_000, "gen_ai.usage.output_tokens": 5, "gen_ai.usage.reasoning.output_tokens": 30 }))).toEqual({
      input: 12,
      cacheRead: 9_000,
      cacheWrite: 0,
      output: 35,
      reasoning: 30,
    });
  });

  test("no usage is undefined; counts as digit text are read; negative, fractional or too large counts are refused", () => {
    expect(usageOf(attrs({ "gen_ai.request.model": "m" }))).toBeUndefined();
    expect(usageOf(attrs({ "gen_ai.usage.input_tokens": "42" }))).toMatchObject({ input: 42, output: 0 });
    expect(() => usageOf(attrs({ "gen_ai.usage.output_tokens": 1.5 }))).toThrow(new SpanProblem("gen_ai.usage.output_tokens must be a whole number of tokens, not 1.5"));
    expect(() => usageOf(attrs({ "gen_ai.usage.input_tokens": -1 }))).toThrow(SpanProblem);
    expect(() => usageOf(attrs({ "gen_ai.usage.input_tokens": 2 ** 31 }))).toThrow(/the most Tracedeck stores is 2147483647/);
  });
});

describe("what a span becomes", () => {
  const tool = (extra: Record<string, unknown> = {}, over: Partial<OtlpSpan> = {}) => classify(span({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "bash", ...extra }, over));

  test("execute_tool: the call, with input parsed from JSON text, output as text, times from the span", () => {
    const c = tool({ "gen_ai.tool.call.arguments": '{"cmd":"ls"}', "gen_ai.tool.call.result": { files: 2 }, "gen_ai.tool.call.id": "call_9", "tracedeck.turn.number": 3, "tracedeck.message.id": "msg_1" });
    expect(c).toMatchObject({
      kind: "tool",
      pending: false,
      chat: { externalId: `trace:${TRACE}`, title: "svc · trace 5b8efff7" },
      call: { toolName: "bash", toolCallId: "call_9", toolInput: { cmd: "ls" }, output: '{"files":2}', turnNumber: 3, messageId: "msg_1" },
    });
    if (c.kind !== "tool") throw new Error("not a tool");
    expect([c.call.startedAt.toISOString(), c.call.finishedAt!.toISOString()]).toEqual(["2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20.250Z"]);
    expect(c.call.error).toBeUndefined();
  });

  test("input: absent is {}, text that is not a JSON object stays text, a bare number becomes text", () => {
    const input = (v: unknown) => (tool(v === undefined ? {} : { "gen_ai.tool.call.arguments": v }) as { call: { toolInput: unknown } }).call.toolInput;
    expect([input(undefined), input("ls -la"), input("42"), input(12.5), input(["a"])]).toEqual([{}, "ls -la", "42", "12.5", ["a"]]);
  });

  test("without gen_ai.tool.call.id the call id comes from the span's ids, so a repeat is the same call", () => {
    expect((tool() as { call: { toolCallId: string } }).call.toolCallId).toBe(`span:${TRACE}:00000000000000aa`);
  });

  test("the chat: gen_ai.conversation.id, else session.id, on the span or its resource", () => {
    const key = (a: Record<string, unknown>, resource: Record<string, unknown> = {}) => (tool(a, { resource: attrs({ "service.name": "svc", ...resource }) }) as { chat: { externalId: string } }).chat.externalId;
    expect(key({ "gen_ai.conversation.id": "c1", "session.id": "s1" })).toBe("c1");
    expect(key({ "session.id": "s1" }, { "gen_ai.conversation.id": "c2" })).toBe("s1");
    expect(key({}, { "session.id": "s3" })).toBe("s3");
  });

  test("status: ERROR with its message; error.type alone; timeout and cancelled keep their status", () => {
    const outcome = (extra: Record<string, unknown>, status = { code: 0, message: "" }) => {
      const c = tool(extra, { status }) as { call: { error?: string; status?: string } };
      return [c.call.error, c.call.status];
    };
    expect(outcome({}, { code: 2, message: "exit code 1" })).toEqual(["exit code 1", undefined]);
    expect(outcome({ "error.type": "ENOENT" }, { code: 2, message: "" })).toEqual(["ENOENT", undefined]);
    expect(outcome({ "error.type": "PermissionError" })).toEqual(["PermissionError", undefined]);
    expect(outcome({ "error.type": "timeout" })).toEqual(["timeout", "timeout"]);
    expect(outcome({ "error.type": "cancelled" }, { code: 2, message: "user pressed Esc" })).toEqual(["user pressed Esc", "cancelled"]);
    expect(outcome({}, { code: 1, message: "" })).toEqual([undefined, undefined]);
  });

  test("rejected: no tool name, not ended, ending before it starts, a bad turn; a pending span with no parent", () => {
    expect(() => classify(span({ "gen_ai.operation.name": "execute_tool" }))).toThrow("an execute_tool span needs gen_ai.tool.name");
    expect(() => tool({}, { endNs: 0n })).toThrow("endTimeUnixNano is missing: the span has not ended");
    expect(() => tool({}, { endNs: 1n })).toThrow("endTimeUnixNano is before startTimeUnixNano");
    expect(() => tool({ "tracedeck.turn.number": 0 })).toThrow("tracedeck.turn.number must be a whole number from 1, not 0");
    expect(() => tool({ "logfire.span_type": "pending_span" })).toThrow("a pending span needs its real span as parent (parentSpanId)");
  });

  test("a pending span is the call started, under its real span's id and parent", () => {
    const c = tool({ "logfire.span_type": "pending_span", "logfire.pending_parent_id": "00000000000000cc" }, { parentSpanId: "00000000000000bb", endNs: 1_700_000_000_000_000_000n });
    expect(c).toMatchObject({ kind: "tool", pending: true, call: { toolCallId: `span:${TRACE}:00000000000000bb` }, place: { spanId: "00000000000000bb", parentSpanId: "00000000000000cc" } });
    expect((c as { call: { finishedAt?: Date } }).call.finishedAt).toBeUndefined();
  });

  test("inference spans are steps; agents, pending steps, logs and plain spans are not stored", () => {
    expect(classify(span({ "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 5 }))).toMatchObject({ kind: "inference", stepKey: `otlp:${TRACE}:00000000000000aa`, tokens: { input: 5 } });
    expect(classify(span({ "gen_ai.operation.name": "text_completion", "tracedeck.message.id": "msg_7" }))).toMatchObject({ kind: "inference", stepKey: "msg_7", tokens: undefined });
    for (const a of [{ "gen_ai.operation.name": "invoke_agent" }, { "gen_ai.operation.name": "chat", "logfire.span_type": "pending_span" }, { "gen_ai.operation.name": "execute_tool", "logfire.span_type": "log" }, { "http.method": "GET" }]) {
      expect(classify(span(a)), JSON.stringify(a)).toEqual({ kind: "other" });
    }
  });
});

describe("joining calls to the step that asked for them", () => {
  const tokens = { input: 10, output: 1, cacheRead: 0, cacheWrite: 0, reasoning: 0 };
  const step = (spanId: string, parentSpanId: string | undefined, startNs: bigint) => ({ traceId: TRACE, spanId, parentSpanId, startNs, stepKey: `k${spanId}`, tokens: tokens as typeof tokens | undefined });
  const call = (spanId: string, parentSpanId: string | undefined, startNs: bigint, messageId?: string) => ({ traceId: TRACE, spanId, parentSpanId, startNs, chatId: "chat", toolCallId: `c${spanId}`, messageId });

  test("the parent step first; else the latest sibling started before the call; never a later one", () => {
    const index = createStepIndex();
    const links = index.add([step("s1", "agent", 10n), step("s2", "agent", 20n), step("s3", "agent", 40n)], [call("t1", "s1", 15n), call("t2", "agent", 30n), call("t3", "agent", 5n)]);
    expect(links).toEqual([
      { chatId: "chat", stepKey: "ks1", tokens, toolCallIds: ["ct1"] },
      { chatId: "chat", stepKey: "ks2", tokens, toolCallIds: ["ct2"] },
    ]);
  });

  test("across requests, in either order; a call stays with the first step it was joined to", () => {
    const index = createStepIndex();
    expect(index.add([], [call("t1", "agent", 30n)])).toEqual([]);
    expect(index.add([step("s1", "agent", 10n)], [])).toEqual([{ chatId: "chat", stepKey: "ks1", tokens, toolCallIds: ["ct1"] }]);
    // A sibling closer to the call, arriving late, does not take it.
    expect(index.add([step("s2", "agent", 20n)], [])).toEqual([]);
    // The same call again: joined to the same step again (storing it is idempotent).
    expect(index.add([], [call("t1", "agent", 30n)])).toEqual([{ chatId: "chat", stepKey: "ks1", tokens, toolCallIds: ["ct1"] }]);
  });

  test("a step without usage gives nothing, and still is the step just before the call", () => {
    const index = createStepIndex();
    expect(index.add([step("s1", "agent", 10n), { ...step("s2", "agent", 20n), tokens: undefined }], [call("t1", "agent", 30n)])).toEqual([]);
  });

  test("a call that names its step (tracedeck.message.id) is joined to the step of that name, wherever it is", () => {
    const index = createStepIndex();
    const links = index.add([step("s1", undefined, 10n), step("s2", "elsewhere", 50n)], [call("t1", "s1", 20n, "unknown"), call("t2", "s1", 20n, "ks2")]);
    expect(links).toEqual([{ chatId: "chat", stepKey: "ks2", tokens, toolCallIds: ["ct2"] }]);
  });

  test("bounded: traces beyond the limit and past their age are forgotten", () => {
    const index = createStepIndex({ maxTraces: 2, maxSpansPerTrace: 10, maxAgeMs: 1_000 });
    for (const id of ["a", "b", "c"]) index.add([{ ...step("s", undefined, 1n), traceId: id }], [], 0);
    expect(index.size).toBe(2);
    index.add([{ ...step("s", undefined, 1n), traceId: "d" }], [], 5_000);
    expect(index.size).toBe(1);
  });
});
