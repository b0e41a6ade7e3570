import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvider } from "../../../server/agent/providers/index.js";
import { ProviderError, type ConversationMessage } from "../../../server/agent/providers/provider.js";
import { createScriptedProvider, isScriptName } from "../../../server/agent/providers/scripted.js";
import { makeTempDir, removeDir } from "../helpers.js";
import { modelRequest } from "./fixtures.js";

let dir: string;
beforeAll(() => {
  dir = makeTempDir("tracedeck-scripts-");
  writeScript("fix-bug", {
    steps: [
      {
        text: "Let me read it.",
        toolCalls: [
          { name: "read_file", input: { path: "a.ts" } },
          { name: "read_file", input: { path: "b.ts" }, id: "custom_id" },
        ],
        usage: { input: 100, output: 20, cacheRead: 5, reasoning: 7 },
        expect: "Fix",
      },
      { text: "Fixed.", expect: "export const a" },
    ],
  });
  writeFileSync(join(dir, "broken.json"), "{ steps: [");
  writeScript("bad-shape", { steps: [{ text: 3, toolCalls: [{ input: {} }] }] });
  writeScript("bad-usage", { steps: [{ usage: { output: 1, reasoning: 5 } }] });
  writeScript("empty", { steps: [] });
  writeScript("typo", { steps: [{ txt: "hi" }] });
});
afterAll(() => removeDir(dir));

function writeScript(name: string, script: unknown): void {
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(script));
}

async function scriptFailure(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  expect((error as ProviderError).provider).toBe("scripted");
  expect((error as ProviderError).kind).toBe("script");
  return error as ProviderError;
}

const firstUser: ConversationMessage[] = [{ role: "user", content: "Fix the failing test." }];
const afterToolCalls: ConversationMessage[] = [
  ...firstUser,
  {
    role: "assistant",
    content: [
      { type: "text", text: "Let me read it." },
      { type: "tool_use", id: "scripted_0_0", name: "read_file", input: { path: "a.ts" } },
    ],
  },
  { role: "user", content: [{ type: "tool_result", tool_use_id: "scripted_0_0", content: "export const a = 1;" }] },
];

describe("scripted provider", () => {
  it("plays the step at the position of the conversation", async () => {
    const provider = createScriptedProvider(dir, "fix-bug");
    expect(provider.name).toBe("scripted");

    const first = await provider.complete(modelRequest({ messages: firstUser }));
    expect(first).toEqual({
      messageId: "scripted-0",
      text: "Let me read it.",
      toolCalls: [
        { id: "scripted_0_0", name: "read_file", input: { path: "a.ts" } },
        { id: "custom_id", name: "read_file", input: { path: "b.ts" } },
      ],
      usage: { input: 100, output: 20, cacheRead: 5, cacheWrite: 0, reasoning: 7 },
      stopReason: "tool_use",
    });

    const second = await provider.complete(modelRequest({ messages: afterToolCalls }));
    expect(second).toEqual({
      messageId: "scripted-1",
      text: "Fixed.",
      toolCalls: [],
      usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 },
      stopReason: "end_turn",
    });

    // Deterministic: the same conversation plays the same step again (a restart, a replay).
    const again = await createScriptedProvider(dir, "fix-bug").complete(modelRequest({ messages: firstUser }));
    expect(again).toEqual(first);
  });

  it("refuses a step whose expect is not in the last user message", async () => {
    const provider = createScriptedProvider(dir, "fix-bug");
    const error = await scriptFailure(provider.complete(modelRequest({ messages: [{ role: "user", content: "Write docs." }] })));
    expect(error.message).toContain('step 0 expected the last user message to contain "Fix"');
    expect(error.message).toContain("Write docs.");

    const wrongResult: ConversationMessage[] = [
      ...afterToolCalls.slice(0, 2),
      { role: "user", content: [{ type: "tool_result", tool_use_id: "scripted_0_0", content: "no such file", is_error: true }] },
    ];
    const second = await scriptFailure(provider.complete(modelRequest({ messages: wrongResult })));
    expect(second.message).toContain('step 1 expected the last user message to contain "export const a"');
  });

  it("fails clearly when the steps run out", async () => {
    const provider = createScriptedProvider(dir, "fix-bug");
    const messages: ConversationMessage[] = [
      ...afterToolCalls,
      { role: "assistant", content: "Fixed." },
      { role: "user", content: "Thanks, one more thing." },
    ];
    const error = await scriptFailure(provider.complete(modelRequest({ messages })));
    expect(error.message).toContain("ran out of steps");
    expect(error.message).toContain("step 2");
    expect(error.message).toContain("2 steps");
  });

  it("fails clearly on a missing file", async () => {
    const error = await scriptFailure(createScriptedProvider(dir, "nope").complete(modelRequest({ messages: firstUser })));
    expect(error.message).toContain("no script file nope.json");
  });

  it("fails clearly on a file that is not JSON", async () => {
    const error = await scriptFailure(createScriptedProvider(dir, "broken").complete(modelRequest({ messages: firstUser })));
    expect(error.message).toContain("broken.json is not valid JSON");
  });

  it("fails clearly on a script of the wrong shape", async () => {
    const shape = await scriptFailure(createScriptedProvider(dir, "bad-shape").complete(modelRequest({ messages: firstUser })));
    expect(shape.message).toContain("bad-shape.json is not a valid script");
    expect(shape.message).toContain("steps.0.text");
    expect(shape.message).toContain("steps.0.toolCalls.0.name");

    const usage = await scriptFailure(createScriptedProvider(dir, "bad-usage").complete(modelRequest({ messages: firstUser })));
    expect(usage.message).toContain("steps.0.usage.reasoning");

    const empty = await scriptFailure(createScriptedProvider(dir, "empty").complete(modelRequest({ messages: firstUser })));
    expect(empty.message).toContain("at least one step");

    const typo = await scriptFailure(createScriptedProvider(dir, "typo").complete(modelRequest({ messages: firstUser })));
    expect(typo.message).toContain("txt");
  });

  it("takes a script name, never a path", async () => {
    for (const name of ["../x", "/etc/passwd", "a/b", ".hidden", "", "x\\y", "-flag"]) {
      expect(isScriptName(name)).toBe(false);
      const error = await scriptFailure(createScriptedProvider(dir, name).complete(modelRequest({ messages: firstUser })));
      expect(error.message).toContain("is not a script name");
    }
    expect(isScriptName("fix-bug.v2_final")).toBe(true);
  });

  it("stops at an aborted signal", async () => {
    const error = await createScriptedProvider(dir, "fix-bug")
      .complete(modelRequest({ messages: firstUser, signal: AbortSignal.abort() }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).kind).toBe("cancelled");
  });

  it("is what createProvider builds for scripted, with the model as the script name", async () => {
    const config = {
      openai: { timeoutMs: 1_000 },
      anthropic: { timeoutMs: 1_000 },
      scriptsDir: dir,
    };
    const provider = createProvider("scripted", "fix-bug", config);
    expect(provider.name).toBe("scripted");
    expect((await provider.complete(modelRequest({ messages: firstUser }))).messageId).toBe("scripted-0");
    expect(createProvider("openai", "gpt-x", config).name).toBe("openai");
    expect(createProvider("anthropic", "claude-x", config).name).toBe("anthropic");
  });
});
