import { afterEach, describe, expect, it } from "vitest";
import { createAnthropicProvider } from "../../../server/agent/providers/anthropic.js";
import { ProviderError } from "../../../server/agent/providers/provider.js";
import { closedPortUrl, sendJson, startFakeServer, type FakeServer } from "./fake-server.js";
import { API_KEY, modelRequest, readFileTool, providerFailure } from "./fixtures.js";

const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(answer: Parameters<typeof startFakeServer>[0]): Promise<FakeServer> {
  const started = await startFakeServer(answer);
  servers.push(started);
  return started;
}

/** A Messages answer as Anthropic documents it: text, two tool_use blocks and usage with cache reads and writes. */
const message = {
  id: "msg_01XYZ",
  type: "message",
  role: "assistant",
  model: "test-model",
  content: [
    { type: "text", text: "Reading b.ts now." },
    { type: "tool_use", id: "toolu_3", name: "read_file", input: { path: "b.ts" } },
    { type: "tool_use", id: "toolu_4", name: "read_file", input: { path: "c.ts" } },
  ],
  stop_reason: "tool_use",
  stop_sequence: null,
  usage: {
    input_tokens: 50,
    output_tokens: 80,
    cache_read_input_tokens: 1000,
    cache_creation_input_tokens: 200,
    service_tier: "standard",
  },
};

function anthropicError(type: string, text: string) {
  return { type: "error", error: { type, message: text }, request_id: "req_011" };
}

const failure = (promise: Promise<unknown>) => providerFailure("anthropic", promise);

describe("anthropic provider", () => {
  it("sends the conversation as Messages and normalises the answer", async () => {
    const fake = await server((_req, res) => sendJson(res, 200, message));
    const provider = createAnthropicProvider({ apiKey: API_KEY, baseURL: fake.url, timeoutMs: 5_000, maxRetries: 0 });
    expect(provider.name).toBe("anthropic");

    const response = await provider.complete(modelRequest());

    expect(fake.requests).toHaveLength(1);
    const request = fake.requests[0]!;
    expect(request.method).toBe("POST");
    expect(request.url).toBe("/v1/messages");
    // The key travels in an auth header (this SDK version sends it as a Bearer token).
    const authHeaders = [request.headers["x-api-key"], request.headers.authorization].filter(Boolean).join(" ");
    expect(authHeaders).toContain(API_KEY);
    expect(request.headers["anthropic-version"]).toBeTruthy();
    expect(request.body).toEqual({
      model: "test-model",
      max_tokens: 4096,
      system: "You are a careful coding agent.",
      messages: [
        { role: "user", content: "Fix the failing test." },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Let me look at both files." },
            { type: "tool_use", id: "call_1", name: "read_file", input: { path: "a.ts" } },
            { type: "tool_use", id: "call_2", name: "read_file", input: { path: "missing.ts" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "call_1", content: "export const a = 1;" },
            { type: "tool_result", tool_use_id: "call_2", content: "no such file", is_error: true },
            { type: "text", text: "Also check b.ts." },
          ],
        },
      ],
      tools: [{ name: "read_file", description: readFileTool.description, input_schema: readFileTool.inputSchema }],
    });

    expect(response).toEqual({
      messageId: "msg_01XYZ",
      text: "Reading b.ts now.",
      toolCalls: [
        { id: "toolu_3", name: "read_file", input: { path: "b.ts" } },
        { id: "toolu_4", name: "read_file", input: { path: "c.ts" } },
      ],
      // input_tokens exclude cache reads and writes, as in Tracedeck's convention.
      usage: { input: 50, cacheRead: 1000, cacheWrite: 200, output: 80, reasoning: 0 },
      stopReason: "tool_use",
    });
  });

  it("passes maxOutputTokens and leaves tools and an empty system out", async () => {
    const fake = await server((_req, res) =>
      sendJson(res, 200, {
        ...message,
        content: [{ type: "text", text: "Done." }],
        stop_reason: "end_turn",
        usage: { input_tokens: 5, output_tokens: 1 },
      }),
    );
    const provider = createAnthropicProvider({ apiKey: API_KEY, baseURL: fake.url, timeoutMs: 5_000, maxRetries: 0 });
    const response = await provider.complete(modelRequest({ tools: [], system: "", maxOutputTokens: 100, messages: [{ role: "user", content: "hi" }] }));
    expect(fake.requests[0]!.body).toEqual({ model: "test-model", max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
    expect(response).toEqual({
      messageId: "msg_01XYZ",
      text: "Done.",
      toolCalls: [],
      usage: { input: 5, cacheRead: 0, cacheWrite: 0, output: 1, reasoning: 0 },
      stopReason: "end_turn",
    });
  });

  it("refuses to start without a key, before any request (even with a baseURL)", async () => {
    const fake = await server((_req, res) => sendJson(res, 200, message));
    for (const apiKey of [undefined, "", "  "]) {
      const provider = createAnthropicProvider({ apiKey, baseURL: fake.url, timeoutMs: 5_000, maxRetries: 0 });
      const error = await failure(provider.complete(modelRequest()));
      expect(error.kind).toBe("missing_key");
      expect(error.message).toBe("ANTHROPIC_API_KEY is not set");
    }
    expect(fake.requests).toHaveLength(0);
  });

  it("maps 401 to auth without the key", async () => {
    const fake = await server((_req, res) => sendJson(res, 401, anthropicError("authentication_error", `invalid x-api-key ${API_KEY}`)));
    const provider = createAnthropicProvider({ apiKey: API_KEY, baseURL: fake.url, timeoutMs: 5_000, maxRetries: 1 });
    const error = await failure(provider.complete(modelRequest()));
    expect(error.kind).toBe("auth");
    expect(error.status).toBe(401);
    expect(error.message).toContain("refused the API key (401)");
    expect(fake.requests).toHaveLength(1);
  });

  it("maps 500 to refused with the status and the provider's message, after one quick retry", async () => {
    const fake = await server((_req, res) =>
      sendJson(res, 500, anthropicError("api_error", `Internal server error for ${API_KEY}`), { "retry-after-ms": "10" }),
    );
    const provider = createAnthropicProvider({ apiKey: API_KEY, baseURL: fake.url, timeoutMs: 5_000, maxRetries: 1 });
    const started = Date.now();
    const error = await failure(provider.complete(modelRequest()));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(fake.requests).toHaveLength(2);
    expect(error.kind).toBe("refused");
    expect(error.status).toBe(500);
    expect(error.message).toBe("Anthropic refused the request (500): Internal server error for [redacted]");
  });

  it("maps 400 to refused with the provider's short message", async () => {
    const fake = await server((_req, res) => sendJson(res, 400, anthropicError("invalid_request_error", "max_tokens: must be at least 1")));
    const provider = createAnthropicProvider({ apiKey: API_KEY, baseURL: fake.url, timeoutMs: 5_000, maxRetries: 0 });
    const error = await failure(provider.complete(modelRequest()));
    expect(error.kind).toBe("refused");
    expect(error.message).toBe("Anthropic refused the request (400): max_tokens: must be at least 1");
  });

  it("maps a closed port to unreachable, naming the host", async () => {
    const url = await closedPortUrl();
    const provider = createAnthropicProvider({ apiKey: API_KEY, baseURL: url, timeoutMs: 5_000, maxRetries: 0 });
    const error = await failure(provider.complete(modelRequest()));
    expect(error.kind).toBe("unreachable");
    expect(error.message).toContain(new URL(url).host);
  });

  it("maps a timeout to unreachable and an abort to cancelled", async () => {
    const fake = await server(() => {
      // never answers
    });
    const slow = createAnthropicProvider({ apiKey: API_KEY, baseURL: fake.url, timeoutMs: 300, maxRetries: 0 });
    const timedOut = await failure(slow.complete(modelRequest()));
    expect(timedOut.kind).toBe("unreachable");
    expect(timedOut.message).toContain("did not answer within 300 ms");

    const provider = createAnthropicProvider({ apiKey: API_KEY, baseURL: fake.url, timeoutMs: 10_000, maxRetries: 0 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const cancelled = await failure(provider.complete(modelRequest({ signal: controller.signal })));
    expect(cancelled.kind).toBe("cancelled");
  });

  it("maps an answer outside the documented format to bad_response", async () => {
    const fake = await server((_req, res) => sendJson(res, 200, { ...message, usage: { input_tokens: -1, output_tokens: 2 } }));
    const provider = createAnthropicProvider({ apiKey: API_KEY, baseURL: fake.url, timeoutMs: 5_000, maxRetries: 0 });
    const error = await failure(provider.complete(modelRequest()));
    expect(error.kind).toBe("bad_response");
    expect(error.message).toContain("usage");
  });
});
