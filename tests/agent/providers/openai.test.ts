import { afterEach, describe, expect, it, vi } from "vitest";
import { createOpenAiProvider, toChatCompletionRequest } from "../../../server/agent/providers/openai.js";
import { ProviderError } from "../../../server/agent/providers/provider.js";
import { closedPortUrl, sendJson, startFakeServer, type FakeServer } from "./fake-server.js";
import { API_KEY, modelRequest, readFileTool, providerFailure } from "./fixtures.js";

const servers: FakeServer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(answer: Parameters<typeof startFakeServer>[0]): Promise<FakeServer> {
  const started = await startFakeServer(answer);
  servers.push(started);
  return started;
}

/** A completion as OpenAI documents it: text, two tool calls (one with broken JSON) and usage with details. */
const completion = {
  id: "chatcmpl-abc123",
  object: "chat.completion",
  created: 1_760_000_000,
  model: "test-model",
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content: "Reading b.ts now.",
        refusal: null,
        tool_calls: [
          { id: "call_3", type: "function", function: { name: "read_file", arguments: '{"path":"b.ts"}' } },
          { id: "call_4", type: "function", function: { name: "read_file", arguments: '{"path": "c.ts"' } },
        ],
      },
      logprobs: null,
      finish_reason: "tool_calls",
    },
  ],
  usage: {
    prompt_tokens: 1200,
    completion_tokens: 300,
    total_tokens: 1500,
    prompt_tokens_details: { cached_tokens: 1000, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 120, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  },
};

const failure = (promise: Promise<unknown>) => providerFailure("openai", promise);

describe("openai provider", () => {
  it("sends the conversation as Chat Completions and normalises the answer", async () => {
    const fake = await server((_req, res) => sendJson(res, 200, completion));
    const provider = createOpenAiProvider({ apiKey: API_KEY, baseURL: `${fake.url}/v1`, timeoutMs: 5_000, maxRetries: 0 });
    expect(provider.name).toBe("openai");

    const response = await provider.complete(modelRequest({ maxOutputTokens: 2048 }));

    expect(fake.requests).toHaveLength(1);
    const request = fake.requests[0]!;
    expect(request.method).toBe("POST");
    expect(request.url).toBe("/v1/chat/completions");
    expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request.body).toEqual({
      model: "test-model",
      messages: [
        { role: "system", content: "You are a careful coding agent." },
        { role: "user", content: "Fix the failing test." },
        {
          role: "assistant",
          content: "Let me look at both files.",
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "read_file", arguments: '{"path":"a.ts"}' } },
            { id: "call_2", type: "function", function: { name: "read_file", arguments: '{"path":"missing.ts"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "export const a = 1;" },
        { role: "tool", tool_call_id: "call_2", content: "Error: no such file" },
        { role: "user", content: "Also check b.ts." },
      ],
      tools: [{ type: "function", function: { name: "read_file", description: readFileTool.description, parameters: readFileTool.inputSchema } }],
      tool_choice: "auto",
      // Not OpenAI's own host: the field compatible servers know.
      max_tokens: 2048,
    });

    expect(response).toEqual({
      messageId: "chatcmpl-abc123",
      text: "Reading b.ts now.",
      toolCalls: [
        { id: "call_3", name: "read_file", input: { path: "b.ts" } },
        { id: "call_4", name: "read_file", input: { invalidJson: '{"path": "c.ts"' } },
      ],
      // prompt_tokens include the cached ones; completion_tokens include reasoning.
      usage: { input: 200, cacheRead: 1000, cacheWrite: 0, output: 300, reasoning: 120 },
      stopReason: "tool_calls",
    });
  });

  it("leaves tools out when there are none and reads a text-only answer without usage details", async () => {
    const fake = await server((_req, res) =>
      sendJson(res, 200, {
        id: "chatcmpl-2",
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", content: "Done." }, finish_reason: "stop" }],
        usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
      }),
    );
    const provider = createOpenAiProvider({ apiKey: API_KEY, baseURL: `${fake.url}/v1`, timeoutMs: 5_000, maxRetries: 0 });
    const response = await provider.complete(modelRequest({ tools: [], system: "", messages: [{ role: "user", content: "hi" }] }));
    const body = fake.requests[0]!.body as Record<string, unknown>;
    expect(body).toEqual({ model: "test-model", messages: [{ role: "user", content: "hi" }] });
    expect(response).toEqual({
      messageId: "chatcmpl-2",
      text: "Done.",
      toolCalls: [],
      usage: { input: 10, cacheRead: 0, cacheWrite: 0, output: 2, reasoning: 0 },
      stopReason: "stop",
    });
  });

  it("asks OpenAI's own API for max_completion_tokens, which its reasoning models need", () => {
    const body = toChatCompletionRequest(modelRequest({ maxOutputTokens: 512 }), true);
    expect(body.max_completion_tokens).toBe(512);
    expect(body.max_tokens).toBeUndefined();
    expect(toChatCompletionRequest(modelRequest(), true).max_completion_tokens).toBeUndefined();
  });

  it("needs no key with a baseURL (Ollama, vLLM, LM Studio) and sends a placeholder", async () => {
    const fake = await server((_req, res) => sendJson(res, 200, completion));
    const provider = createOpenAiProvider({ baseURL: `${fake.url}/v1`, timeoutMs: 5_000, maxRetries: 0 });
    const response = await provider.complete(modelRequest());
    expect(response.messageId).toBe("chatcmpl-abc123");
    expect(fake.requests[0]!.headers.authorization).toMatch(/^Bearer \S+$/);
  });

  it("refuses to start without a key and without a baseURL, before any request", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    for (const apiKey of [undefined, "", "   "]) {
      const provider = createOpenAiProvider({ apiKey, timeoutMs: 5_000, maxRetries: 0 });
      const error = await failure(provider.complete(modelRequest()));
      expect(error.kind).toBe("missing_key");
      expect(error.message).toBe("OPENAI_API_KEY is not set");
    }
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("maps 401 to auth without the key", async () => {
    const fake = await server((_req, res) =>
      sendJson(res, 401, {
        error: { message: `Incorrect API key provided: ${API_KEY}.`, type: "invalid_request_error", param: null, code: "invalid_api_key" },
      }),
    );
    const provider = createOpenAiProvider({ apiKey: API_KEY, baseURL: `${fake.url}/v1`, timeoutMs: 5_000, maxRetries: 1 });
    const error = await failure(provider.complete(modelRequest()));
    expect(error.kind).toBe("auth");
    expect(error.status).toBe(401);
    expect(error.message).toContain("refused the API key (401)");
    // Not retried.
    expect(fake.requests).toHaveLength(1);
  });

  it("maps 403 to auth", async () => {
    const fake = await server((_req, res) => sendJson(res, 403, { error: { message: "Project does not have access", type: "invalid_request_error" } }));
    const provider = createOpenAiProvider({ apiKey: API_KEY, baseURL: `${fake.url}/v1`, timeoutMs: 5_000, maxRetries: 0 });
    const error = await failure(provider.complete(modelRequest()));
    expect(error.kind).toBe("auth");
    expect(error.message).toContain("(403)");
  });

  it("maps 500 to refused with the status and the provider's message, redacting an echoed key, after one quick retry", async () => {
    const fake = await server((_req, res) =>
      sendJson(res, 500, { error: { message: `The server had an error while processing key ${API_KEY}`, type: "server_error" } }, { "retry-after-ms": "10" }),
    );
    const provider = createOpenAiProvider({ apiKey: API_KEY, baseURL: `${fake.url}/v1`, timeoutMs: 5_000, maxRetries: 1 });
    const started = Date.now();
    const error = await failure(provider.complete(modelRequest()));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(fake.requests).toHaveLength(2);
    expect(error.kind).toBe("refused");
    expect(error.status).toBe(500);
    expect(error.message).toContain("(500)");
    expect(error.message).toContain("The server had an error while processing key [redacted]");
  });

  it("maps 400 to refused with a plain-text body", async () => {
    const fake = await server((_req, res) => {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end("model 'nope' not found");
    });
    const provider = createOpenAiProvider({ apiKey: API_KEY, baseURL: `${fake.url}/v1`, timeoutMs: 5_000, maxRetries: 0 });
    const error = await failure(provider.complete(modelRequest({ model: "nope" })));
    expect(error.kind).toBe("refused");
    expect(error.message).toBe("OpenAI refused the request (400): model 'nope' not found");
  });

  it("maps a closed port to unreachable, naming the host", async () => {
    const url = await closedPortUrl();
    const provider = createOpenAiProvider({ apiKey: API_KEY, baseURL: `${url}/v1`, timeoutMs: 5_000, maxRetries: 0 });
    const error = await failure(provider.complete(modelRequest()));
    expect(error.kind).toBe("unreachable");
    expect(error.message).toContain(new URL(url).host);
    expect(error.message).toContain("connection refused");
  });

  it("maps a timeout to unreachable", async () => {
    const fake = await server(() => {
      // never answers
    });
    const provider = createOpenAiProvider({ apiKey: API_KEY, baseURL: `${fake.url}/v1`, timeoutMs: 300, maxRetries: 0 });
    const error = await failure(provider.complete(modelRequest()));
    expect(error.kind).toBe("unreachable");
    expect(error.message).toContain("did not answer within 300 ms");
  });

  it("maps an aborted signal to cancelled", async () => {
    const fake = await server(() => {
      // never answers
    });
    const provider = createOpenAiProvider({ apiKey: API_KEY, baseURL: `${fake.url}/v1`, timeoutMs: 10_000, maxRetries: 0 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(provider.complete(modelRequest({ signal: controller.signal })));
    expect(error.kind).toBe("cancelled");
    expect(fake.requests).toHaveLength(1);

    // Already aborted: no request at all.
    const again = await failure(provider.complete(modelRequest({ signal: AbortSignal.abort() })));
    expect(again.kind).toBe("cancelled");
    expect(fake.requests).toHaveLength(1);
  });

  it("maps an answer outside the documented format to bad_response", async () => {
    const fake = await server((_req, res) => sendJson(res, 200, { id: "chatcmpl-x", choices: [] }));
    const provider = createOpenAiProvider({ apiKey: API_KEY, baseURL: `${fake.url}/v1`, timeoutMs: 5_000, maxRetries: 0 });
    const error = await failure(provider.complete(modelRequest()));
    expect(error.kind).toBe("bad_response");
    expect(error.message).toContain("no choices");
  });
});
