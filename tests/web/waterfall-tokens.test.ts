import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import TokenBreakdown from "../../web/src/components/waterfall/TokenBreakdown.vue";
import ChatSummary from "../../web/src/components/waterfall/ChatSummary.vue";

const tokens = { input: 1234, output: 560, cacheRead: "9000000", cacheWrite: 0, reasoning: 77 };

describe("TokenBreakdown", () => {
  it("lists the five kinds with their counts", () => {
    const w = mount(TokenBreakdown, { props: { tokens, toolCallCount: 1 } });
    const rows = w.findAll("tr").map((r) => [r.find("th").text(), r.find("td").text()]);
    expect(rows).toEqual([
      ["Input", "1,234"],
      ["Output", "560"],
      ["Cache read", "9,000,000"],
      ["Cache write", "0"],
      ["Reasoning", "77"],
    ]);
    expect(w.find('[data-testid="shared-note"]').exists()).toBe(false);
  });

  it("says the usage is shared when the step made several tool calls", () => {
    const w = mount(TokenBreakdown, { props: { tokens, toolCallCount: 4 } });
    expect(w.find('[data-testid="shared-note"]').text()).toContain("Shared by 4 tool calls of this step");
  });
});

describe("ChatSummary", () => {
  it("shows traces, errors, running and the token kinds", () => {
    const w = mount(ChatSummary, {
      props: { stats: { traceCount: 100_000, errorCount: 17, runningCount: 2, tokens: { ...tokens, tokensUsed: 9_002_794 } } },
    });
    const pairs = w.findAll(".stat").map((s) => [s.find("dt").text().replace(/^[✕◔] /, ""), s.find("dd").text()]);
    expect(pairs).toEqual([
      ["Traces", "100,000"],
      ["Errors", "17"],
      ["Running", "2"],
      ["Tokens", "9.0M"],
      ["Input", "1,234"],
      ["Output", "560"],
      ["Cache read", "9.0M"],
      ["Cache write", "0"],
      ["Reasoning", "77"],
    ]);
    expect(w.find(".bad").exists()).toBe(true);
  });
});
