// Tracedeck's agent when the model side goes wrong, in process through GraphQL: a provider without a
// key, a provider refusing the key or the request (local fake OpenAI and Anthropic HTTP servers, the
// real wire formats), tools that fail inside the loop, a tool name the model made up, and the step
// limit. Each ends the turn the way the API documents, says why in an agent_error, never leaks the
// key, and leaves the chat able to go on. Also full tool-calling turns over both wire formats, whose
// token usage is normalised and summed over every step (the final answer included) onto the turn.
import type { ServerResponse } from "node:http";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type AgentHarness, agentGql, startAgentHarness, stopAgentHarness } from "./harness.js";
import { type FakeServer, type RecordedRequest, sendJson, startFakeServer } from "./providers/fake-server.js";

const API_KEY = "sk-test-SECRET-agent-0123456789abcdef";

function client(h: () => AgentHarness) {
  const gql = agentGql(h);

  async function newChat(settings: Record<string, unknown>) {
    const chat = (await gql(`mutation { createChat(input: { title: "provider errors" }) { ... on Chat { uuid } } }`)).createChat.uuid as string;
    const workspace = `ws-${chat}`;
    mkdirSync(join(h().root, workspace), { recursive: true });
    const updated = await gql(
      `mutation($chatId: ID!, $input: AgentSettingsInput!) { updateAgentSettings(chatId: $chatId, input: $input) { __typename ... on AgentSettings { provider stored } ... on Error { message } } }`,
      { chatId: chat, input: { workspace, buildCommand: [], ...settings } },
    );
    expect(updated.updateAgentSettings).toMatchObject({ __typename: "AgentSettings", provider: settings.provider, stored: true });
    return { chat, dir: join(h().root, workspace) };
  }

  /** Sends a message and waits for the turn (and anything after it) to end; returns the turn. */
  async function turn(chatId: string, text: string) {
    const sent = await gql(
      `mutation($chatId: ID!, $text: String!) { sendMessage(chatId: $chatId, text: $text) { __typename ... on SendMessagePayload { turnNumber } ... on Error { message } } }`,
      { chatId, text },
    );
    expect(sent.sendMessage.__typename, JSON.stringify(sent.sendMessage)).toBe("SendMessagePayload");
    await h().t.app.agent.idle(chatId);
    const data = await gql(
      `query($id: ID!) { chat(id: $id) { activeTurn { turnNumber } agentTurns(last: 50) { id turnNumber status outcome error steps provider model tokens { input output cacheRead cacheWrite reasoning } messages { id kind text } } } }`,
      { id: chatId },
    );
    expect(data.chat.activeTurn).toBeNull();
    const found = (data.chat.agentTurns as Record<string, any>[]).find((x) => x.turnNumber === sent.sendMessage.turnNumber);
    expect(found).toBeDefined();
    return found!;
  }

  async function traces(chatId: string) {
    return h().db.prisma.toolTrace.findMany({ where: { chatId }, orderBy: [{ startedAt: "asc" }, { id: "asc" }] });
  }

  /** The chat's agent_error events, each with the message it points at. */
  async function agentErrors(chatId: string) {
    const events = await h().db.prisma.chatEvent.findMany({ where: { chatId, kind: "agent_error" }, orderBy: { seq: "asc" } });
    const messages = await h().db.prisma.agentMessage.findMany({ where: { id: { in: events.map((e) => e.subjectId) } } });
    return events.map((e) => messages.find((m) => m.id === e.subjectId)?.text);
  }

  /** Every stored row that could carry text from a provider, as text: none may hold the key. */
  async function storedText(): Promise<string> {
    const parts: string[] = [];
    for (const table of ["agent_messages", "agent_turns", "agent_snapshot_revisions", "tool_traces", "model_steps", "chat_events"]) {
      const rows = await h().db.prisma.$queryRawUnsafe<{ t: string }[]>(`SELECT t::text AS t FROM ${table} t`);
      parts.push(...rows.map((r) => r.t));
    }
    return parts.join("\n");
  }

  const agentStatus = async () => (await gql(`{ agentStatus { enabled } }`)).agentStatus;

  return { gql, newChat, turn, traces, agentErrors, storedText, agentStatus };
}

describe("a provider without a key", () => {
  let h: AgentHarness;
  const c = client(() => h);
  beforeAll(async () => {
    // providers.openai has neither apiKey nor baseURL (whatever OPENAI_API_KEY the test process has).
    h = await startAgentHarness((scripts) => ({ providers: { openai: { timeoutMs: 5_000 }, anthropic: { timeoutMs: 5_000 }, scriptsDir: scripts } }));
  });
  afterAll(() => stopAgentHarness(h));

  test("the turn ends as an error whose agent_error says OPENAI_API_KEY is not set, and the server keeps answering", async () => {
    const { chat } = await c.newChat({ provider: "openai", model: "gpt-4.1-mini" });
    const first = await c.turn(chat, "hello");
    expect(first).toMatchObject({ turnNumber: 1, status: "error", outcome: "the model request failed", steps: 0, provider: "openai" });
    expect(first.error).toBe("openai: OPENAI_API_KEY is not set");
    expect(first.messages.map((m: any) => [m.kind, m.text])).toEqual([["error", "openai: OPENAI_API_KEY is not set"]]);
    expect(await c.agentErrors(chat)).toEqual(["openai: OPENAI_API_KEY is not set"]);
    expect(first.tokens).toEqual({ input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 });

    // Not stuck: the server answers, and the next message is a new turn (not a conflict).
    expect(await c.agentStatus()).toEqual({ enabled: true });
    const second = await c.turn(chat, "hello again");
    expect(second).toMatchObject({ turnNumber: 2, status: "error", error: "openai: OPENAI_API_KEY is not set" });
  });
});

describe("providers over their real wire formats (local fake servers)", () => {
  let h: AgentHarness;
  let fake: FakeServer;
  /** How the fake server answers the next request; set by each test. */
  let answer: (request: RecordedRequest, res: ServerResponse) => void = (_req, res) => sendJson(res, 500, { error: "no answer set" });
  const c = client(() => h);

  beforeAll(async () => {
    fake = await startFakeServer((request, res) => answer(request, res));
    h = await startAgentHarness((scripts) => ({
      maxSteps: 2,
      providers: {
        openai: { apiKey: API_KEY, baseURL: `${fake.url}/v1`, timeoutMs: 10_000, maxRetries: 0 },
        anthropic: { apiKey: API_KEY, baseURL: fake.url, timeoutMs: 10_000, maxRetries: 0 },
        scriptsDir: scripts,
      },
    }));
  });
  afterAll(async () => {
    await stopAgentHarness(h);
    await fake?.close();
  });

  /** Answers the requests in order, one answer each; a request beyond them is a test failure (500). */
  function answers(...list: ((request: RecordedRequest, res: ServerResponse) => void)[]) {
    const before = fake.requests.length;
    answer = (request, res) => {
      const index = fake.requests.indexOf(request) - before;
      const next = list[index];
      if (next) next(request, res);
      else sendJson(res, 500, { error: { message: `unexpected request ${index}` } });
    };
    return () => fake.requests.slice(before);
  }

  const openAiToolCall = (id: string, name: string, input: unknown, usage: Record<string, unknown>) => (_req: RecordedRequest, res: ServerResponse) =>
    sendJson(res, 200, {
      id: `chatcmpl-${id}`,
      object: "chat.completion",
      created: 1_760_000_000,
      model: "gpt-test",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: null, refusal: null, tool_calls: [{ id, type: "function", function: { name, arguments: JSON.stringify(input) } }] },
          logprobs: null,
          finish_reason: "tool_calls",
        },
      ],
      usage,
    });
  const openAiAnswer = (text: string, usage: Record<string, unknown>) => (_req: RecordedRequest, res: ServerResponse) =>
    sendJson(res, 200, {
      id: "chatcmpl-final",
      object: "chat.completion",
      created: 1_760_000_001,
      model: "gpt-test",
      choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage,
    });

  describe("refusals: the turn ends as an error, the message names the refusal and never the key", () => {
    test("OpenAI answering 401 (its body echoing the key)", async () => {
      const { chat } = await c.newChat({ provider: "openai", model: "gpt-test" });
      const seen = answers((_req, res) =>
        sendJson(res, 401, { error: { message: `Incorrect API key provided: ${API_KEY}. You can find your API key at https://platform.openai.com`, type: "invalid_request_error", code: "invalid_api_key" } }),
      );
      const turn = await c.turn(chat, "hello");
      expect(seen()).toHaveLength(1);
      expect(seen()[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(turn).toMatchObject({ status: "error", outcome: "the model request failed", steps: 0 });
      expect(turn.error).toBe("openai: OpenAI refused the API key (401)");
      expect(await c.agentErrors(chat)).toEqual(["openai: OpenAI refused the API key (401)"]);
      expect(await c.storedText()).not.toContain(API_KEY);
      expect(await c.agentStatus()).toEqual({ enabled: true });
    });

    test("OpenAI answering 500 (its body echoing the key)", async () => {
      const { chat } = await c.newChat({ provider: "openai", model: "gpt-test" });
      answers((_req, res) => sendJson(res, 500, { error: { message: `The server had an error while processing your request (key ${API_KEY})`, type: "server_error" } }));
      const turn = await c.turn(chat, "hello");
      expect(turn.status).toBe("error");
      expect(turn.error).toMatch(/^openai: OpenAI refused the request \(500\): The server had an error while processing your request/);
      expect(turn.error).not.toContain(API_KEY);
      expect(turn.error).not.toContain("SECRET");
      expect(await c.agentErrors(chat)).toEqual([turn.error]);
      expect(await c.storedText()).not.toContain(API_KEY);
    });

    test("Anthropic answering 401", async () => {
      const { chat } = await c.newChat({ provider: "anthropic", model: "claude-test" });
      const seen = answers((_req, res) => sendJson(res, 401, { type: "error", error: { type: "authentication_error", message: `invalid x-api-key ${API_KEY}` } }));
      const turn = await c.turn(chat, "hello");
      expect(seen()[0]!.url).toBe("/v1/messages");
      // The SDK sends the key as x-api-key or as a bearer token, depending on its version.
      expect([seen()[0]!.headers["x-api-key"], seen()[0]!.headers.authorization].filter(Boolean).join(" ")).toContain(API_KEY);
      expect(turn).toMatchObject({ status: "error", outcome: "the model request failed", provider: "anthropic" });
      expect(turn.error).toBe("anthropic: Anthropic refused the API key (401)");
      expect(await c.agentErrors(chat)).toEqual(["anthropic: Anthropic refused the API key (401)"]);
      expect(await c.storedText()).not.toContain(API_KEY);
    });

    test("a refusal after a tool step keeps that step's tokens on the turn, and the next message goes on", async () => {
      const { chat, dir } = await c.newChat({ provider: "openai", model: "gpt-test" });
      answers(
        openAiToolCall("call_w", "write_file", { path: "a.txt", content: "a\n" }, { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 }),
        (_req, res) => sendJson(res, 503, { error: { message: "overloaded" } }),
      );
      const turn = await c.turn(chat, "write a");
      expect(turn).toMatchObject({ status: "error", steps: 1, error: "openai: OpenAI refused the request (503): overloaded" });
      expect(turn.tokens).toEqual({ input: 100, output: 10, cacheRead: 0, cacheWrite: 0, reasoning: 0 });
      expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("a\n");

      // The snapshot holds the answered call: the next turn sends it back, and the model answers.
      const seen = answers(openAiAnswer("done", { prompt_tokens: 40, completion_tokens: 2, total_tokens: 42 }));
      const next = await c.turn(chat, "go on");
      expect(next).toMatchObject({ turnNumber: 2, status: "ok", steps: 1 });
      const messages = (seen()[0]!.body as any).messages as any[];
      expect(messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool", "user"]);
      expect(messages[3]).toMatchObject({ role: "tool", tool_call_id: "call_w" });
      expect(messages[4]).toEqual({ role: "user", content: "go on" });
    });
  });

  describe("full tool-calling turns: a tool call, then the final answer", () => {
    test("OpenAI Chat Completions: cached and reasoning tokens normalised and summed over both steps", async () => {
      const { chat, dir } = await c.newChat({ provider: "openai", model: "gpt-test" });
      const seen = answers(
        openAiToolCall("call_1", "write_file", { path: "hello.txt", content: "hi\n" }, {
          prompt_tokens: 1200,
          completion_tokens: 300,
          total_tokens: 1500,
          prompt_tokens_details: { cached_tokens: 1000, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 120, audio_tokens: 0 },
        }),
        openAiAnswer("Wrote hello.txt.", {
          prompt_tokens: 1500,
          completion_tokens: 50,
          total_tokens: 1550,
          prompt_tokens_details: { cached_tokens: 1200 },
          completion_tokens_details: { reasoning_tokens: 10 },
        }),
      );
      const turn = await c.turn(chat, "Write hello.txt");
      expect(turn).toMatchObject({ status: "ok", outcome: "answered after 2 steps", steps: 2, error: null });
      // input excludes the cached part; output includes reasoning; both steps count.
      expect(turn.tokens).toEqual({ input: 200 + 300, output: 300 + 50, cacheRead: 1000 + 1200, cacheWrite: 0, reasoning: 120 + 10 });
      expect(turn.messages.map((m: any) => [m.kind, m.text])).toEqual([["assistant", "Wrote hello.txt."]]);
      expect(readFileSync(join(dir, "hello.txt"), "utf8")).toBe("hi\n");

      const requests = seen();
      expect(requests.map((r) => r.url)).toEqual(["/v1/chat/completions", "/v1/chat/completions"]);
      const firstBody = requests[0]!.body as any;
      expect(firstBody.model).toBe("gpt-test");
      expect(firstBody.tools.map((t: any) => t.function.name)).toEqual(expect.arrayContaining(["read_file", "write_file", "edit_file", "list_files", "run_command"]));
      const second = (requests[1]!.body as any).messages as any[];
      expect(second.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
      expect(second[2].tool_calls).toEqual([{ id: "call_1", type: "function", function: { name: "write_file", arguments: JSON.stringify({ path: "hello.txt", content: "hi\n" }) } }]);
      expect(second[3]).toMatchObject({ role: "tool", tool_call_id: "call_1" });

      const [trace] = await c.traces(chat);
      expect(trace).toMatchObject({ toolName: "write_file", status: "ok", toolCallId: "turn-1/call_1", messageId: "turn-1/chatcmpl-call_1", turnNumber: 1 });
    });

    test("Anthropic Messages: cache reads and writes normalised and summed over both steps", async () => {
      const { chat, dir } = await c.newChat({ provider: "anthropic", model: "claude-test" });
      const seen = answers(
        (_req, res) =>
          sendJson(res, 200, {
            id: "msg_01",
            type: "message",
            role: "assistant",
            model: "claude-test",
            content: [
              { type: "text", text: "Writing the file." },
              { type: "tool_use", id: "toolu_01", name: "write_file", input: { path: "hello.txt", content: "hi\n" } },
            ],
            stop_reason: "tool_use",
            stop_sequence: null,
            usage: { input_tokens: 50, output_tokens: 20, cache_read_input_tokens: 900, cache_creation_input_tokens: 100 },
          }),
        (_req, res) =>
          sendJson(res, 200, {
            id: "msg_02",
            type: "message",
            role: "assistant",
            model: "claude-test",
            content: [{ type: "text", text: "Done." }],
            stop_reason: "end_turn",
            stop_sequence: null,
            usage: { input_tokens: 60, output_tokens: 15, cache_read_input_tokens: 1000, cache_creation_input_tokens: 0 },
          }),
      );
      const turn = await c.turn(chat, "Write hello.txt");
      expect(turn).toMatchObject({ status: "ok", outcome: "answered after 2 steps", steps: 2 });
      expect(turn.tokens).toEqual({ input: 50 + 60, output: 20 + 15, cacheRead: 900 + 1000, cacheWrite: 100, reasoning: 0 });
      expect(turn.messages.map((m: any) => m.text)).toEqual(["Writing the file.", "Done."]);
      expect(readFileSync(join(dir, "hello.txt"), "utf8")).toBe("hi\n");

      const requests = seen();
      expect(requests.map((r) => r.url)).toEqual(["/v1/messages", "/v1/messages"]);
      const second = requests[1]!.body as any;
      expect(second.system).toEqual(expect.any(String));
      expect(second.messages.map((m: any) => m.role)).toEqual(["user", "assistant", "user"]);
      expect(second.messages[2].content).toEqual([expect.objectContaining({ type: "tool_result", tool_use_id: "toolu_01" })]);
      expect(second.messages[2].content[0].is_error).toBeUndefined();
    });
  });

  describe("inside the loop (scripted provider)", () => {
    function writeScript(name: string, steps: unknown[]) {
      writeFileSync(join(h.scripts, `${name}.json`), JSON.stringify({ steps }));
    }

    test("a tool that fails (read_file of a missing file) is an error trace the model reads, and the turn goes on", async () => {
      writeScript("missing-file", [
        { toolCalls: [{ name: "read_file", input: { path: "nope.txt" } }] },
        { expect: "nope.txt: no such file", text: "the file is missing" },
      ]);
      const { chat } = await c.newChat({ provider: "scripted", model: "missing-file" });
      const turn = await c.turn(chat, "read nope.txt");
      expect(turn).toMatchObject({ status: "ok", steps: 2, outcome: "answered after 2 steps" });
      expect(turn.messages.map((m: any) => [m.kind, m.text])).toEqual([["assistant", "the file is missing"]]);
      const traces = await c.traces(chat);
      expect(traces.map((x) => [x.toolName, x.status, x.error])).toEqual([["read_file", "error", "nope.txt: no such file"]]);
      expect(await c.agentErrors(chat)).toEqual([]);
    });

    test("a tool name the model made up is an error trace, and the model is told which tools there are", async () => {
      writeScript("unknown-tool", [
        { toolCalls: [{ name: "frobnicate", input: { level: 11 } }] },
        { expect: 'there is no tool named "frobnicate"; the tools are ', text: "sorry, wrong tool" },
      ]);
      const { chat } = await c.newChat({ provider: "scripted", model: "unknown-tool" });
      const turn = await c.turn(chat, "frobnicate");
      expect(turn).toMatchObject({ status: "ok", steps: 2 });
      const traces = await c.traces(chat);
      expect(traces).toHaveLength(1);
      expect(traces[0]).toMatchObject({ toolName: "frobnicate", status: "error", toolInput: { level: 11 } });
      expect(traces[0]!.error).toMatch(/^there is no tool named "frobnicate"; the tools are .*read_file/);
      // The model's reply saw the error as a tool result (is_error) in the snapshot's conversation.
      const head = await h.t.app.services.snapshots.loadCurrent(chat);
      const results = ((head!.state as any).messages as any[]).flatMap((m) => (Array.isArray(m.content) ? m.content : [])).filter((b: any) => b.type === "tool_result");
      expect(results).toEqual([expect.objectContaining({ is_error: true, content: expect.stringContaining('there is no tool named "frobnicate"') })]);
    });

    test("the step limit (maxSteps 2) ends a turn that keeps calling tools as an error, with every step's tokens", async () => {
      writeScript("endless", [
        { toolCalls: [{ name: "list_files", input: {} }], usage: { input: 10, output: 4, cacheRead: 2 } },
        { toolCalls: [{ name: "list_files", input: {} }], usage: { input: 11, output: 5, reasoning: 1 } },
        { toolCalls: [{ name: "list_files", input: {} }], usage: { input: 1000, output: 1000 } },
        { text: "never" },
      ]);
      const { chat } = await c.newChat({ provider: "scripted", model: "endless" });
      const turn = await c.turn(chat, "loop");
      expect(turn).toMatchObject({ status: "error", outcome: "step limit reached", steps: 2, error: "stopped at the step limit: 2 model steps without a final answer" });
      expect(turn.tokens).toEqual({ input: 21, output: 9, cacheRead: 2, cacheWrite: 0, reasoning: 1 });
      expect(await c.agentErrors(chat)).toEqual(["stopped at the step limit: 2 model steps without a final answer"]);
      expect((await c.traces(chat)).map((x) => `${x.toolName}:${x.status}`)).toEqual(["list_files:ok", "list_files:ok"]);
    });

    test("tokens on the turn sum every step, the final answer (which has no trace) included", async () => {
      writeScript("tokens", [
        { toolCalls: [{ name: "list_files", input: {} }], usage: { input: 100, output: 20, cacheRead: 30, cacheWrite: 5, reasoning: 4 } },
        { text: "listed", usage: { input: 7, output: 3, cacheRead: 1, cacheWrite: 2, reasoning: 1 } },
      ]);
      const { chat } = await c.newChat({ provider: "scripted", model: "tokens" });
      const turn = await c.turn(chat, "count");
      expect(turn).toMatchObject({ status: "ok", steps: 2 });
      expect(turn.tokens).toEqual({ input: 107, output: 23, cacheRead: 31, cacheWrite: 7, reasoning: 5 });
      // The traced step alone is what the chat's traces know: the turn has more.
      const steps = await h.db.prisma.modelStep.findMany({ where: { chatId: chat } });
      expect(steps).toHaveLength(1);
    });
  });
});
