import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  type AssistantEntry,
  type ParsedTranscript,
  type PromptEntry,
  type ToolResultEntry,
  type TranscriptEntry,
  parseTranscript,
  stepKey,
  turnsOf,
  usageSteps,
} from "../../server/ingest/claude-code/transcript.js";
import { ccusageTotals, ccusageTotalsOfTexts } from "../helpers/ccusage-count.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/claude-code");
const SESSION = "7d3f1c2a-5b6e-4f80-9a1b-2c3d4e5f6a7b";
const AGENT = "a3f9c2e1";
const basicPath = path.join(fixtures, "session-basic.jsonl");
const subagentPath = path.join(fixtures, SESSION, "subagents", `agent-${AGENT}.jsonl`);
const resumedPath = path.join(fixtures, "session-resumed.jsonl");
const read = (file: string) => readFileSync(file, "utf8");
const parseFile = (file: string) => parseTranscript(read(file), { source: path.relative(fixtures, file) });

const M1 = "msg_01AAAAAAAAAAAAAAAAAAAAAAAA:req_01AAAAAAAAAAAAAAAAAAAAAAAA";
const T_BASH = "toolu_01AAAAAAAAAAAAAAAAAAAAAAAA";
const T_READ = "toolu_01BBBBBBBBBBBBBBBBBBBBBBBB";
const T_AGENT = "toolu_01CCCCCCCCCCCCCCCCCCCCCCCC";

const ofType = <T extends TranscriptEntry["type"]>(t: ParsedTranscript, type: T) =>
  t.entries.filter((e): e is Extract<TranscriptEntry, { type: T }> => e.type === type);
/** The first `n` lines of a text (each with its "\n"). */
const firstLines = (text: string, n: number) => text.split("\n").slice(0, n).join("\n") + "\n";
const line = (value: unknown) => JSON.stringify(value);
const sumTokens = (t: ParsedTranscript | ParsedTranscript[]) =>
  usageSteps(t).reduce(
    (sum, s) => ({ input: sum.input + s.tokens.input, output: sum.output + s.tokens.output, cacheRead: sum.cacheRead + s.tokens.cacheRead, cacheWrite: sum.cacheWrite + s.tokens.cacheWrite }),
    { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
  );

describe("parseTranscript: session-basic.jsonl", () => {
  const t = parseFile(basicPath);

  it("reads every line, ignoring the snapshot and system lines, with no bad line", () => {
    expect(t.lines).toBe(16);
    expect(t.badLines).toBe(0);
    expect(t.ignoredLines).toBe(3); // file-history-snapshot + 2 system turn_duration
    expect(t.sessionId).toBe(SESSION);
    expect(t.source).toBe("session-basic.jsonl");
    expect(t.entries.map((e) => `${e.line}:${e.type}`)).toEqual([
      "2:prompt",
      "3:assistant",
      "4:assistant",
      "5:assistant",
      "6:assistant",
      "7:tool_result",
      "8:tool_result",
      "9:assistant",
      "11:prompt",
      "12:assistant",
      "13:assistant",
      "14:tool_result",
      "15:assistant",
    ]);
  });

  it("gives prompts with their uuid, time, text, session and cwd", () => {
    const prompts = ofType(t, "prompt");
    expect(prompts).toHaveLength(2);
    expect(prompts[0]).toEqual<PromptEntry>({
      type: "prompt",
      line: 2,
      uuid: "00000000-0000-4000-8000-000000000001",
      timestamp: "2026-03-02T10:00:00.000Z",
      sessionId: SESSION,
      sidechain: false,
      agentId: null,
      text: "Run the tests and tell me why one fails",
      cwd: "/home/user/project",
      command: null,
    });
    expect(prompts[1]!.text).toBe("Use a subagent to find every caller of add()");
  });

  it("keeps a message split over lines as lines sharing one step key, the parallel tool uses on their own lines", () => {
    const first = ofType(t, "assistant").filter((e) => e.messageId === "msg_01AAAAAAAAAAAAAAAAAAAAAAAA");
    expect(first).toHaveLength(4);
    expect(new Set(first.map((e) => e.stepKey))).toEqual(new Set([M1]));
    expect(first.map((e) => e.requestId)).toEqual(Array(4).fill("req_01AAAAAAAAAAAAAAAAAAAAAAAA"));
    // thinking line: no text, no tool, the intermediate usage
    expect(first[0]).toMatchObject({ text: "", toolUses: [], model: "claude-sonnet-4-5-20250929", stopReason: null, isApiError: false, sidechain: false, agentId: null });
    expect(first[0]!.usage).toMatchObject({ input_tokens: 3, output_tokens: 1, cache_read_input_tokens: 15000, cache_creation_input_tokens: 1200 });
    expect(first[1]).toMatchObject({ text: "I'll run the tests and read the source.", toolUses: [] });
    expect(first[2]!.toolUses).toEqual([{ id: T_BASH, name: "Bash", input: { command: "npm test", description: "Run the test suite" } }]);
    expect(first[3]!.toolUses).toEqual([{ id: T_READ, name: "Read", input: { file_path: "/home/user/project/src/math.ts" } }]);
    expect(first[3]).toMatchObject({ stopReason: "tool_use", timestamp: "2026-03-02T10:00:04.700Z" });
    // the raw usage is kept whole, unknown fields included
    expect(first[3]!.usage).toMatchObject({ output_tokens: 187, service_tier: "standard", cache_creation: { ephemeral_5m_input_tokens: 1200 } });
  });

  it("gives tool results as text, a failed Bash with isError, and the launched subagent of an Agent call", () => {
    const results = ofType(t, "tool_result");
    expect(results.map((r) => [r.toolUseId, r.isError])).toEqual([
      [T_READ, false],
      [T_BASH, true],
      [T_AGENT, false],
    ]);
    expect(results[0]!.content).toContain("return a - b;");
    expect(results[1]!.content.split("\n")[0]).toBe("Exit code 1");
    expect(results[1]!.timestamp).toBe("2026-03-02T10:00:09.200Z");
    // text blocks joined
    expect(results[2]).toMatchObject({ content: "Found 2 callers of add():\n- src/app.ts:12\n- src/report.ts:40", launchedAgentId: AGENT, truncated: false });
    expect(results[0]!.launchedAgentId).toBeNull();
  });
});

describe("parseTranscript: the subagent's transcript", () => {
  const t = parseFile(subagentPath);

  it("marks every entry sidechain with the agent id and the parent's session", () => {
    expect(t).toMatchObject({ lines: 4, badLines: 0, ignoredLines: 0, sessionId: SESSION });
    expect(t.entries.map((e) => e.type)).toEqual(["prompt", "assistant", "tool_result", "assistant"]);
    for (const e of t.entries) expect(e).toMatchObject({ sidechain: true, agentId: AGENT, sessionId: SESSION });
    expect((t.entries[0] as PromptEntry).text).toBe("Find every caller of add() under src/ and report each as file:line.");
    expect((t.entries[1] as AssistantEntry).toolUses[0]).toMatchObject({ name: "Grep", id: "toolu_01DDDDDDDDDDDDDDDDDDDDDDDD" });
    expect((t.entries[1] as AssistantEntry).model).toBe("claude-haiku-4-5-20251001");
  });
});

describe("parseTranscript: session-resumed.jsonl", () => {
  const t = parseFile(resumedPath);

  it("ignores summary, system and queue lines, drops meta and command output, counts the cut line as bad", () => {
    expect(t.lines).toBe(19);
    expect(t.badLines).toBe(1);
    // summary, 2 system, queue-operation, the isMeta caveat, the local-command-stdout
    expect(t.ignoredLines).toBe(6);
    expect(t.entries.map((e) => `${e.line}:${e.type}`)).toEqual([
      "2:prompt",
      "3:assistant",
      "4:tool_result",
      "5:assistant",
      "7:prompt",
      "8:assistant",
      "12:prompt",
      "14:prompt",
      "15:assistant",
      "16:assistant",
      "17:tool_result",
      "18:assistant",
    ]);
    const texts = ofType(t, "prompt").map((p) => p.text);
    expect(texts.join("\n")).not.toContain("local-command");
    expect(texts).toEqual(["Add a --verbose flag to the CLI", "Now document it in README.md", "/model haiku", "Now document the flag in README.md"]);
  });

  it("keeps a slash command as a prompt with its name and arguments", () => {
    expect(ofType(t, "prompt")[2]!.command).toEqual({ name: "/model", args: "haiku" });
  });

  it("marks the API error line", () => {
    const error = ofType(t, "assistant").find((e) => e.isApiError)!;
    expect(error).toMatchObject({ line: 8, model: "<synthetic>", requestId: null, stepKey: "line:00000000-0000-4000-8000-000000000207" });
    expect(error.text).toMatch(/^API Error: 529/);
  });

  it("reads lines without requestId", () => {
    const gateway = ofType(t, "assistant").filter((e) => e.messageId === "msg_02CCCCCCCCCCCCCCCCCCCCCCCC");
    expect(gateway.map((e) => [e.requestId, e.stepKey])).toEqual([
      [null, "line:00000000-0000-4000-8000-000000000213"],
      [null, "line:00000000-0000-4000-8000-000000000214"],
    ]);
  });
});

describe("parseTranscript: tolerance", () => {
  const user = (content: unknown, extra: Record<string, unknown> = {}) =>
    line({ type: "user", uuid: "u-1", timestamp: "2026-01-01T00:00:00.000Z", sessionId: "s", message: { role: "user", content }, ...extra });

  it("counts lines that are not JSON objects or lack a usable message as bad, and never throws", () => {
    const text = [
      "not json",
      "[1,2]",
      "42",
      "null",
      '"a string"',
      "{}",
      line({ type: 7 }),
      line({ type: "user" }),
      line({ type: "user", message: { content: 5 } }),
      line({ type: "assistant", message: "hello" }),
      '{"type":"assistant","message":{"content":[{"type":"text","text":"cut',
      "",
      "   ",
      line({ type: "progress", data: { anything: true } }),
      line({ type: "some-future-type" }),
      user("hello"),
    ].join("\n");
    const t = parseTranscript(text);
    expect(t.badLines).toBe(11);
    expect(t.ignoredLines).toBe(2);
    expect(t.lines).toBe(14); // blank lines are not lines
    expect(t.entries).toHaveLength(1);
    expect(t.entries[0]).toMatchObject({ type: "prompt", text: "hello", line: 16 });
  });

  it("tolerates fields of unexpected types and unknown blocks", () => {
    const text = [
      line({
        type: "assistant",
        uuid: 12,
        timestamp: null,
        isSidechain: "yes",
        requestId: "",
        message: {
          id: "msg_x",
          model: 3,
          usage: "lots",
          stop_reason: 1,
          content: [{ type: "tool_use", id: "toolu_x" }, { type: "server_tool_use", id: "srvtoolu_1", name: "web_search" }, { type: "text", text: "ok" }, null, 3],
        },
      }),
      line({ type: "assistant", uuid: "a-2", message: { id: "msg_y", content: "plain string" } }),
      line({ type: "assistant", uuid: "a-3", message: {} }),
    ].join("\n");
    const t = parseTranscript(text, { source: "x.jsonl" });
    expect(t.badLines).toBe(0);
    const [a, b, c] = t.entries as AssistantEntry[];
    expect(a).toMatchObject({ uuid: null, timestamp: null, sidechain: false, requestId: null, model: null, usage: null, stopReason: null, text: "ok", toolUses: [] });
    expect(a!.stepKey).toBe("line:x.jsonl:1");
    expect(b).toMatchObject({ text: "plain string", stepKey: "line:a-2" });
    expect(c).toMatchObject({ text: "", toolUses: [], usage: null });
  });

  it("drops meta, compact summaries, command output and bash mode; keeps commands and image prompts", () => {
    const text = [
      user("Expanded body of a custom command", { isMeta: true }),
      user("This session is being continued from a previous conversation…", { isCompactSummary: true, isVisibleInTranscriptOnly: true }),
      user("<local-command-stdout>Total cost: $0.01</local-command-stdout>"),
      user("<local-command-stderr>oops</local-command-stderr>"),
      user("<bash-input>ls</bash-input>"),
      user("<bash-stdout>a.txt\nb.txt</bash-stdout><bash-stderr></bash-stderr>"),
      user([]),
      user("<command-message>review is running…</command-message>\n<command-name>/review</command-name>\n<command-args>PR 12</command-args>"),
      user("<command-name>/clear</command-name>\n<command-message>clear</command-message>\n<command-args></command-args>"),
      user([{ type: "text", text: "What is in this screenshot?" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }]),
      user([{ type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }]),
      user("Please explain <local-command-stdout>x</local-command-stdout> to me"),
    ].join("\n");
    const t = parseTranscript(text);
    expect(t.ignoredLines).toBe(7);
    expect(ofType(t, "prompt").map((p) => [p.text, p.command])).toEqual([
      ["/review PR 12", { name: "/review", args: "PR 12" }],
      ["/clear", { name: "/clear", args: "" }],
      ["What is in this screenshot?\n[image]", null],
      ["[image]", null],
      ["Please explain <local-command-stdout>x</local-command-stdout> to me", null],
    ]);
  });

  it("turns the interrupt markers into interrupt entries", () => {
    const t = parseTranscript([user([{ type: "text", text: "[Request interrupted by user]" }]), user("[Request interrupted by user for tool use]")].join("\n"));
    expect(t.entries.map((e) => e.type === "interrupt" && e.duringToolUse)).toEqual([false, true]);
  });

  it("gives one tool_result entry per block, content as text, images as [image], capped", () => {
    const big = "x".repeat(5000);
    const text = user(
      [
        { type: "tool_result", tool_use_id: "toolu_a", content: "plain" },
        { type: "tool_result", tool_use_id: "toolu_b", content: [{ type: "text", text: "one" }, { type: "image", source: {} }, { type: "text", text: "two" }], is_error: false },
        { type: "tool_result", tool_use_id: "toolu_c", is_error: true },
        { type: "tool_result", tool_use_id: "toolu_d", content: big },
        { type: "text", text: "ignored next to results" },
      ],
      { toolUseResult: "Error: whatever" },
    );
    const t = parseTranscript(text, { outputCapBytes: 1000 });
    const results = t.entries as ToolResultEntry[];
    expect(results.map((r) => [r.toolUseId, r.content.slice(0, 20), r.isError, r.truncated])).toEqual([
      ["toolu_a", "plain", false, false],
      ["toolu_b", "one\n[image]\ntwo", false, false],
      ["toolu_c", "", true, false],
      ["toolu_d", "x".repeat(20), false, true],
    ]);
    expect(Buffer.byteLength(results[3]!.content)).toBeLessThanOrEqual(1000);
    expect(results[3]!.content).toContain("bytes cut");
    expect((parseTranscript(text, { outputCapBytes: null }).entries[3] as ToolResultEntry).content).toBe(big);
    expect((parseTranscript(text).entries[3] as ToolResultEntry).content).toBe(big); // under the default 32 KiB
  });
});

describe("stepKey", () => {
  it("is message.id:requestId when both are present", () => {
    expect(stepKey({ message: { id: "msg_1" }, requestId: "req_1", uuid: "u" })).toBe("msg_1:req_1");
  });

  it("is unique to the line otherwise: its uuid, else its source and line number", () => {
    expect(stepKey({ message: { id: "msg_1" }, uuid: "u-1" })).toBe("line:u-1");
    expect(stepKey({ requestId: "req_1", uuid: "u-1" })).toBe("line:u-1");
    expect(stepKey({ message: { id: "" }, requestId: "req_1", uuid: "u-1" })).toBe("line:u-1");
    expect(stepKey({ message: { id: "msg_1" } }, { source: "a.jsonl", lineNumber: 9 })).toBe("line:a.jsonl:9");
    expect(stepKey({}, { lineNumber: 9 })).toBe("line:-:9");
    expect(() => stepKey({ message: { id: "msg_1" } })).toThrow(RangeError);
  });
});

describe("usageSteps", () => {
  it("counts a message split over lines once, with the largest usage, the union of its tool uses and its first time", () => {
    const steps = usageSteps(parseFile(basicPath));
    expect(steps.map((s) => s.key)).toEqual([
      M1,
      "msg_01BBBBBBBBBBBBBBBBBBBBBBBB:req_01BBBBBBBBBBBBBBBBBBBBBBBB",
      "msg_01CCCCCCCCCCCCCCCCCCCCCCCC:req_01CCCCCCCCCCCCCCCCCCCCCCCC",
      "msg_01DDDDDDDDDDDDDDDDDDDDDDDD:req_01DDDDDDDDDDDDDDDDDDDDDDDD",
    ]);
    expect(steps[0]).toEqual({
      key: M1,
      messageId: "msg_01AAAAAAAAAAAAAAAAAAAAAAAA",
      requestId: "req_01AAAAAAAAAAAAAAAAAAAAAAAA",
      model: "claude-sonnet-4-5-20250929",
      timestamp: "2026-03-02T10:00:02.100Z",
      tokens: { input: 3, output: 187, cacheRead: 15000, cacheWrite: 1200, reasoning: 0 },
      hasUsage: true,
      toolUseIds: [T_BASH, T_READ],
      sidechain: false,
      agentId: null,
      lines: 4,
      isApiError: false,
    });
    expect(steps[2]).toMatchObject({ toolUseIds: [T_AGENT], lines: 2, tokens: { output: 140 } });
  });

  it("keeps the largest usage whatever the line order", () => {
    const lines = read(basicPath).trimEnd().split("\n");
    // the final-numbers lines (5, 6) before the intermediate ones (3, 4)
    const reordered = [lines[0], lines[1], lines[4], lines[5], lines[2], lines[3], ...lines.slice(6)].join("\n") + "\n";
    const steps = usageSteps(parseTranscript(reordered));
    expect(steps[0]).toMatchObject({ key: M1, tokens: { output: 187 }, timestamp: "2026-03-02T10:00:04.500Z", toolUseIds: [T_BASH, T_READ] });
  });

  it("counts lines without requestId once per line, as ccusage does, and keeps API-error lines (zero usage)", () => {
    const steps = usageSteps(parseFile(resumedPath));
    const gateway = steps.filter((s) => s.messageId === "msg_02CCCCCCCCCCCCCCCCCCCCCCCC");
    expect(gateway.map((s) => [s.key, s.tokens.output, s.lines])).toEqual([
      ["line:00000000-0000-4000-8000-000000000213", 1, 1],
      ["line:00000000-0000-4000-8000-000000000214", 120, 1],
    ]);
    const error = steps.find((s) => s.isApiError)!;
    expect(error).toMatchObject({ model: "<synthetic>", hasUsage: true, tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 } });
  });

  it("marks the subagent's steps sidechain with its agent id", () => {
    const steps = usageSteps(parseFile(subagentPath));
    expect(steps).toHaveLength(2);
    for (const s of steps) expect(s).toMatchObject({ sidechain: true, agentId: AGENT, model: "claude-haiku-4-5-20251001" });
    expect(steps[0]!.tokens).toEqual({ input: 4, output: 60, cacheRead: 3100, cacheWrite: 2100, reasoning: 0 });
  });

  it("prefers the line with speed on a tie, and keeps a step whose usage is refused with zero tokens", () => {
    const at = (n: number) => `2026-01-01T00:00:0${n}.000Z`;
    const u = { input_tokens: 1, output_tokens: 2, cache_read_input_tokens: 3, cache_creation_input_tokens: 4 };
    const text = [
      line({ type: "assistant", uuid: "a", timestamp: at(1), requestId: "r", message: { id: "m", model: "claude-x", usage: u, content: [] } }),
      line({ type: "assistant", uuid: "b", timestamp: at(2), requestId: "r", message: { id: "m", model: "claude-x", usage: { ...u, speed: "fast" }, content: [] } }),
      line({ type: "assistant", uuid: "c", timestamp: at(3), requestId: "r2", message: { id: "m2", usage: { input_tokens: -1, output_tokens: 2 }, content: [] } }),
    ].join("\n");
    const steps = usageSteps(parseTranscript(text));
    expect(steps).toHaveLength(2);
    expect(steps[0]).toMatchObject({ key: "m:r", lines: 2, timestamp: at(1), tokens: { input: 1, output: 2, cacheRead: 3, cacheWrite: 4 } });
    expect(steps[1]).toMatchObject({ key: "m2:r2", hasUsage: false, tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 } });
  });

  it("sums to ccusage's totals over the session and its subagent, and over every fixture", () => {
    const basic = parseFile(basicPath);
    const subagent = parseFile(subagentPath);
    const reference = ccusageTotals([basicPath, subagentPath]);
    expect(reference).toEqual({ input: 25, output: 579, cacheRead: 73950, cacheWrite: 5060 });
    expect(sumTokens([basic, subagent])).toEqual(reference);
    // one transcript at a time gives the same (no step is in two files)
    const [a, b] = [sumTokens(basic), sumTokens(subagent)];
    expect({ input: a.input + b.input, output: a.output + b.output, cacheRead: a.cacheRead + b.cacheRead, cacheWrite: a.cacheWrite + b.cacheWrite }).toEqual(reference);
    expect(sumTokens([basic, subagent, parseFile(resumedPath)])).toEqual(ccusageTotals([fixtures]));
  });

  it("matches ccusage on reordered and duplicated lines", () => {
    const lines = read(basicPath).trimEnd().split("\n");
    const texts = [
      [...lines].reverse().join("\n"),
      [...lines, ...lines].join("\n"), // a message written twice (same ids) is counted once
      lines.filter((_, i) => i % 2 === 0).join("\n"),
    ];
    for (const text of texts) expect(sumTokens(parseTranscript(text))).toEqual(ccusageTotalsOfTexts([text]));
  });
});

describe("turnsOf", () => {
  const basicText = read(basicPath);

  it("groups session-basic into two closed turns with tool calls, their times and outputs", () => {
    const turns = turnsOf(parseTranscript(basicText));
    expect(turns).toHaveLength(2);
    const [first, second] = turns;
    expect(first!.prompt).toEqual({ text: "Run the tests and tell me why one fails", timestamp: "2026-03-02T10:00:00.000Z", uuid: "00000000-0000-4000-8000-000000000001", command: null });
    expect(first!.toolCalls.map((c) => [c.toolUseId, c.name, c.startedAt, c.finishedAt, c.isError, c.stepKey])).toEqual([
      [T_BASH, "Bash", "2026-03-02T10:00:04.500Z", "2026-03-02T10:00:09.200Z", true, M1],
      [T_READ, "Read", "2026-03-02T10:00:04.700Z", "2026-03-02T10:00:04.900Z", false, M1],
    ]);
    expect(first!.toolCalls[0]!.output).toMatch(/^Exit code 1\n/);
    expect(first!.toolCalls[0]!.input).toEqual({ command: "npm test", description: "Run the test suite" });
    expect(first!.texts).toEqual([
      "I'll run the tests and read the source.",
      "One test fails: `add` in src/math.ts subtracts (`return a - b;`), so `add(1, 2)` gives -1 instead of 3. Changing it to `a + b` fixes it.",
    ]);
    expect(first!.stepKeys).toEqual([M1, "msg_01BBBBBBBBBBBBBBBBBBBBBBBB:req_01BBBBBBBBBBBBBBBBBBBBBBBB"]);
    expect(first).toMatchObject({ index: 0, closed: true, interrupted: false, startedAt: "2026-03-02T10:00:00.000Z", lastAt: "2026-03-02T10:00:12.400Z", unmatchedResults: [] });
    expect(second!.toolCalls).toEqual([
      expect.objectContaining({ toolUseId: T_AGENT, name: "Agent", launchedAgentId: AGENT, agentId: null, finishedAt: "2026-03-02T10:01:12.000Z", isError: false }),
    ]);
    expect(second).toMatchObject({ index: 1, closed: true, texts: ["I'll ask an Explore agent to search.", "add() is called from src/app.ts:12 and src/report.ts:40."] });
  });

  it("leaves the last turn open while it may still grow", () => {
    // the prompt alone
    expect(turnsOf(parseTranscript(firstLines(basicText, 2))).map((t) => t.closed)).toEqual([false]);
    // tool uses asked for, no result yet
    const asked = turnsOf(parseTranscript(firstLines(basicText, 6)));
    expect(asked).toHaveLength(1);
    expect(asked[0]!.closed).toBe(false);
    expect(asked[0]!.toolCalls.map((c) => [c.finishedAt, c.output, c.isError])).toEqual([
      [null, null, false],
      [null, null, false],
    ]);
    // one of two results
    const half = turnsOf(parseTranscript(firstLines(basicText, 7)));
    expect(half[0]!.closed).toBe(false);
    expect(half[0]!.toolCalls.map((c) => c.finishedAt !== null)).toEqual([false, true]);
    // both results, the model not yet answered
    expect(turnsOf(parseTranscript(firstLines(basicText, 8)))[0]!.closed).toBe(false);
    // answered
    expect(turnsOf(parseTranscript(firstLines(basicText, 9)))[0]!.closed).toBe(true);
    // the second turn waiting on its subagent: the first is closed, the second not
    expect(turnsOf(parseTranscript(firstLines(basicText, 13))).map((t) => t.closed)).toEqual([true, false]);
  });

  it("makes turn 0 of entries before the first prompt, only when there are some", () => {
    const lines = basicText.split("\n");
    // from the Bash result on: a chunk that starts mid-turn
    const tail = turnsOf(parseTranscript(lines.slice(7).join("\n")));
    expect(tail.map((t) => t.prompt?.text ?? null)).toEqual([null, "Use a subagent to find every caller of add()"]);
    expect(tail[0]).toMatchObject({ index: 0, closed: true, toolCalls: [], stepKeys: ["msg_01BBBBBBBBBBBBBBBBBBBBBBBB:req_01BBBBBBBBBBBBBBBBBBBBBBBB"] });
    expect(tail[0]!.unmatchedResults).toEqual([expect.objectContaining({ toolUseId: T_BASH, isError: true, finishedAt: "2026-03-02T10:00:09.200Z" })]);
    // the snapshot line before the first prompt is no entry: no turn 0
    expect(turnsOf(parseTranscript(basicText))[0]!.prompt).not.toBeNull();
    expect(turnsOf(parseTranscript(""))).toEqual([]);
  });

  it("closes a turn the user interrupted or that another prompt follows", () => {
    const t = (uuid: string, type: string, message: unknown) => line({ type, uuid, timestamp: "2026-01-01T00:00:00.000Z", message });
    const text = [
      t("1", "user", { content: "go" }),
      t("2", "assistant", { id: "m1", content: [{ type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "sleep 100" } }] }),
      t("3", "user", { content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "The user doesn't want to proceed with this tool use.", is_error: true }] }),
      t("4", "user", { content: [{ type: "text", text: "[Request interrupted by user for tool use]" }] }),
      t("5", "user", { content: "never mind" }),
      t("6", "assistant", { id: "m2", content: [{ type: "tool_use", id: "toolu_2", name: "Read", input: {} }] }),
      t("7", "user", { content: "a third prompt before the result" }),
      t("8", "user", { content: [{ type: "tool_result", tool_use_id: "toolu_2", content: "late" }] }),
    ].join("\n");
    const turns = turnsOf(parseTranscript(text));
    expect(turns.map((x) => [x.interrupted, x.closed])).toEqual([
      [true, true],
      [false, true],
      [false, false],
    ]);
    // the late result still finds its call in the earlier turn
    expect(turns[1]!.toolCalls[0]).toMatchObject({ toolUseId: "toolu_2", output: "late" });
    expect(turns[2]!.unmatchedResults).toEqual([]);
  });

  it("groups session-resumed: the API error and the /model turn are closed", () => {
    const turns = turnsOf(parseFile(resumedPath));
    expect(turns.map((x) => [x.prompt?.text, x.closed, x.toolCalls.length, x.stepKeys.length])).toEqual([
      ["Add a --verbose flag to the CLI", true, 1, 2],
      ["Now document it in README.md", true, 0, 1],
      ["/model haiku", true, 0, 0],
      ["Now document the flag in README.md", true, 1, 3],
    ]);
  });

  it("gives the subagent's tool call its agent id", () => {
    const [turn] = turnsOf(parseFile(subagentPath));
    expect(turn!.toolCalls).toEqual([expect.objectContaining({ name: "Grep", agentId: AGENT, finishedAt: "2026-03-02T10:01:05.000Z", output: expect.stringContaining("src/report.ts:40") })]);
    expect(turn!.closed).toBe(true);
  });
});
