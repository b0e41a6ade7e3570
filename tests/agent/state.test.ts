// What the agent keeps of a conversation between turns: always something a provider accepts.
import { describe, expect, test } from "vitest";
import type { ConversationMessage } from "../../server/agent/providers/provider.js";
import { fitState, normalizeConversation, readState } from "../../server/agent/state.js";

const use = (id: string) => ({ type: "tool_use" as const, id, name: "read_file", input: { path: "a" } });
const result = (id: string) => ({ type: "tool_result" as const, tool_use_id: id, content: "ok" });

describe("normalizeConversation", () => {
  test("a cancelled turn's results followed by the next prompt become one user message", () => {
    const messages: ConversationMessage[] = [
      { role: "user", content: "task" },
      { role: "assistant", content: [use("t1")] },
      { role: "user", content: [result("t1")] },
      { role: "user", content: [{ type: "text", text: "next" }] },
    ];
    expect(normalizeConversation(messages)).toEqual([
      { role: "user", content: "task" },
      { role: "assistant", content: [use("t1")] },
      { role: "user", content: [result("t1"), { type: "text", text: "next" }] },
    ]);
  });

  test("a result whose call is gone is dropped; a call without its result is answered as not run", () => {
    const messages: ConversationMessage[] = [
      { role: "user", content: "task" },
      { role: "user", content: [result("gone")] },
      { role: "assistant", content: [use("t2")] },
    ];
    const out = normalizeConversation(messages);
    expect(out).toHaveLength(3);
    expect(out[0]).toEqual({ role: "user", content: "task" });
    expect(out[2]).toEqual({ role: "user", content: [{ type: "tool_result", tool_use_id: "t2", content: "not run: the turn ended before this call ran", is_error: true }] });
  });

  test("readState leaves out messages that do not fit the convention, and mends what that leaves", () => {
    const state = { messages: [{ role: "user", content: "task" }, { role: "assistant", content: 42 }, { role: "user", content: [result("t1")] }] };
    expect(readState(state).messages).toEqual([{ role: "user", content: "task" }]);
  });
});

test("fitState keeps the task and a valid conversation when it must drop messages", () => {
  const big = "x".repeat(2_000);
  const messages: ConversationMessage[] = [{ role: "user", content: "task" }];
  for (let i = 0; i < 40; i++) {
    messages.push({ role: "assistant", content: [{ type: "text", text: big }, use(`t${i}`)] });
    messages.push({ role: "user", content: [{ ...result(`t${i}`), content: big }] });
  }
  const state = fitState({ messages, pending: { autofix: null }, agent: { provider: "scripted", model: "m", workspace: "w", buildCommand: null, fixAttempts: 3 }, turn: { number: 1, status: "ok", outcome: null } }, 6_000);
  expect(Buffer.byteLength(JSON.stringify(state))).toBeLessThanOrEqual(6_000);
  expect(state.messages[0]).toEqual({ role: "user", content: "task" });
  expect(normalizeConversation(state.messages)).toEqual(state.messages);
});
