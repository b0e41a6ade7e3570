import { expect } from "vitest";
import { type ConversationMessage, type ModelRequest, ProviderError, type ProviderName, type ToolSpec } from "../../../server/agent/providers/provider.js";

export const API_KEY = "sk-test-SECRET-0123456789abcdef";

export const readFileTool: ToolSpec = {
  name: "read_file",
  description: "Reads a file of the workspace.",
  inputSchema: {
    type: "object",
    properties: { path: { type: "string", description: "Path in the workspace" } },
    required: ["path"],
    additionalProperties: false,
  },
};

/** A conversation with every block type: text, two tool calls, their results (one an error) and more text. */
export const conversation: ConversationMessage[] = [
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
];

export function modelRequest(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    model: "test-model",
    system: "You are a careful coding agent.",
    messages: conversation,
    tools: [readFileTool],
    ...overrides,
  };
}

/** The ProviderError a call fails with; its message never holds the key (nor the fake server's echo of it). */
export async function providerFailure(provider: ProviderName, promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  const providerError = error as ProviderError;
  expect(providerError.provider).toBe(provider);
  expect(providerError.message).not.toContain(API_KEY);
  expect(providerError.message).not.toContain("SECRET");
  return providerError;
}
