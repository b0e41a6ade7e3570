import urql from "@urql/vue";
import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import TraceRow from "../../web/src/components/waterfall/TraceRow.vue";
import { toRow } from "../../web/src/composables/useChatTraces";
import { buildTimeAxis } from "../../web/src/lib/time-axis";
import { fakeUrql, flush, traceNode } from "./waterfall-helpers";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const axis = buildTimeAxis([{ start: T0, end: T0 + 100_000 }], { width: 1000 });

function mountRow(props: Record<string, unknown>, client = fakeUrql(() => ({ data: null })).client) {
  return mount(TraceRow, {
    props: { index: 6, row: undefined, state: "ready", axis, now: T0 + 50_000, expanded: false, focused: false, rowIndex: 8, ...props } as never,
    global: { plugins: [[urql, client]] },
  });
}

describe("TraceRow", () => {
  it("shows the tool, the status as icon and word, the latency and a bar on the axis", () => {
    const row = toRow(
      traceNode({
        toolName: "run_command",
        status: "ok",
        startedAt: new Date(T0 + 10_000).toISOString(),
        finishedAt: new Date(T0 + 10_850).toISOString(),
        latencyMs: 850,
      }),
    );
    const w = mountRow({ row });
    expect(w.find(".tool").text()).toBe("run_command");
    expect(w.find(".status").text()).toContain("ok");
    expect(w.find(".status").text()).toContain("✓");
    expect(w.find(".latency").text()).toBe("850 ms");
    expect(w.find(".num").text()).toBe("7");
    const bar = w.find('[data-testid="timing-bar"]');
    expect(bar.attributes("data-x")).toBe("100.0");
    expect(bar.attributes("data-width")).toBe("8.5");
    expect(w.attributes("role")).toBe("row");
    expect(w.attributes("aria-expanded")).toBe("false");
    expect(w.attributes("tabindex")).toBe("-1");
  });

  it("shows an error's first line and marks the row", () => {
    const row = toRow(traceNode({ status: "error", error: "ENOENT: no such file\n    at open (fs.js:1)", latencyMs: 12 }));
    const w = mountRow({ row, focused: true });
    expect(w.find(".err-line").text()).toBe("ENOENT: no such file");
    expect(w.find(".status").text()).toContain("error");
    expect(w.classes()).toContain("is-error");
    expect(w.attributes("tabindex")).toBe("0");
  });

  it("shows a running trace's time so far, growing with now", async () => {
    const row = toRow(traceNode({ status: "running", startedAt: new Date(T0 + 40_000).toISOString(), finishedAt: null, latencyMs: null }));
    const w = mountRow({ row, now: T0 + 42_500 });
    expect(w.find(".latency").text()).toBe("2.5 s");
    expect(w.find(".status").text()).toContain("running");
    expect(w.find('[data-testid="timing-bar"]').attributes("data-width")).toBe("25.0");
    await w.setProps({ now: T0 + 52_000 });
    expect(w.find(".latency").text()).toBe("12 s");
    expect(w.find('[data-testid="timing-bar"]').attributes("data-width")).toBe("120.0");
  });

  it("is a placeholder while its page loads, and offers a retry when it failed", async () => {
    const w = mountRow({ row: undefined, state: "loading" });
    expect(w.attributes("aria-busy")).toBe("true");
    expect(w.text()).toContain("Loading");
    await w.setProps({ state: "error", pageError: new Error("boom") });
    expect(w.text()).toContain("Could not load rows 7");
    await w.find("button").trigger("click");
    expect(w.emitted("retry")).toHaveLength(1);
  });

  it("toggles on click", async () => {
    const w = mountRow({ row: toRow(traceNode()) });
    await w.trigger("click");
    expect(w.emitted("toggle")).toHaveLength(1);
  });

  it("expanded, fetches and shows input, output with its truncation note, error and the step's tokens", async () => {
    const node = traceNode({ toolName: "read_file", status: "error", error: "boom\nstack" });
    const fake = fakeUrql((op) => {
      if (op.name !== "TraceDetail") return { data: null };
      return {
        data: {
          node: {
            ...node,
            toolCallId: "call_7",
            messageId: "msg_3",
            sessionId: "s1",
            outcome: null,
            toolInput: { path: "src/a.ts", lines: [1, 2] },
            toolOutput: "first part…[truncated]",
            outputBytes: 40_000,
            outputTruncated: true,
            durationMs: 500,
            step: { key: "msg_3", toolCallCount: 3, tokens: { input: 1200, output: 80, cacheRead: 9000, cacheWrite: 500, reasoning: 40 } },
          },
        },
      };
    });
    const w = mountRow({ row: toRow(node), expanded: true }, fake.client);
    await flush();
    expect(fake.named("TraceDetail")[0]!.variables).toEqual({ id: node.id });
    expect(w.find('[data-testid="trace-input"]').text()).toBe('{\n  "path": "src/a.ts",\n  "lines": [\n    1,\n    2\n  ]\n}');
    expect(w.find('[data-testid="trace-output"]').text()).toBe("first part…[truncated]");
    expect(w.find('[data-testid="truncation-note"]').text()).toContain("39.1 KiB (40,000 bytes)");
    expect(w.find('[data-testid="trace-error"]').text()).toBe("boom\nstack");
    const kinds = w.findAll("[data-kind]").map((r) => [r.attributes("data-kind"), r.find("td").text()]);
    expect(kinds).toEqual([
      ["input", "1,200"],
      ["output", "80"],
      ["cacheRead", "9,000"],
      ["cacheWrite", "500"],
      ["reasoning", "40"],
    ]);
    expect(w.find('[data-testid="shared-note"]').text()).toContain("Shared by 3 tool calls of this step");
    expect(w.attributes("aria-expanded")).toBe("true");
  });

  it("marks a call a subagent made with its type before the tool name, its id in the title", () => {
    const row = toRow(traceNode({ toolName: "Grep", agentId: "a3f9c2e1", agentType: "Explore" }));
    const w = mountRow({ row });
    const marker = w.find('[data-testid="subagent-marker"]');
    expect(marker.exists()).toBe(true);
    expect(marker.text()).toBe("subagent Explore");
    expect(marker.find(".sr-only").text()).toBe("subagent");
    expect(marker.attributes("title")).toBe("Called by the Explore subagent a3f9c2e1");
    // Before the tool name, which stays the tool's name alone.
    const name = w.find(".cell.name");
    expect(name.element.firstElementChild).toBe(marker.element);
    expect(w.find(".tool").text()).toBe("Grep");
    expect(name.attributes("title")).toBe("Grep (called by the Explore subagent a3f9c2e1)");
  });

  it("shows no marker for the main agent's calls, and a plain one when only the agent id is known", () => {
    expect(mountRow({ row: toRow(traceNode({ toolName: "Read" })) }).find('[data-testid="subagent-marker"]').exists()).toBe(false);
    const marker = mountRow({ row: toRow(traceNode({ toolName: "Read", agentId: "b77" })) }).find('[data-testid="subagent-marker"]');
    expect(marker.text()).toBe("subagent agent");
    expect(marker.attributes("title")).toBe("Called by the subagent b77");
  });

  it("expanded, says which subagent made the call", async () => {
    const node = traceNode({ toolName: "Grep", agentId: "a3f9c2e1", agentType: "Explore" });
    const fake = fakeUrql((op) =>
      op.name === "TraceDetail"
        ? {
            data: {
              node: {
                ...node,
                toolCallId: "toolu_01",
                messageId: null,
                sessionId: "s1",
                outcome: null,
                toolInput: { pattern: "add\\(" },
                toolOutput: "src/a.ts",
                outputBytes: 8,
                outputTruncated: false,
                durationMs: 500,
                step: null,
              },
            },
          }
        : { data: null },
    );
    const w = mountRow({ row: toRow(node), expanded: true }, fake.client);
    await flush();
    const meta = w.find('[data-testid="trace-subagent"]');
    expect(meta.find("dt").text()).toBe("Subagent");
    expect(meta.find(".agent-type").text()).toBe("Explore");
    expect(meta.find("code").text()).toBe("a3f9c2e1");
  });

  it("expanded, shows no subagent line for the main agent's calls", async () => {
    const node = traceNode({ toolName: "Read" });
    const fake = fakeUrql((op) =>
      op.name === "TraceDetail"
        ? { data: { node: { ...node, toolCallId: null, messageId: null, sessionId: "s1", outcome: null, toolInput: {}, toolOutput: "x", outputBytes: 1, outputTruncated: false, durationMs: 500, step: null } } }
        : { data: null },
    );
    const w = mountRow({ row: toRow(node), expanded: true }, fake.client);
    await flush();
    expect(w.find('[data-testid="trace-input"]').exists()).toBe(true);
    expect(w.find('[data-testid="trace-subagent"]').exists()).toBe(false);
  });

  it("says so when the detail cannot be read, where the detail would be", async () => {
    const fake = fakeUrql(() => ({ errors: [{ message: "Operation timed out", extensions: { code: "OPERATION_TIMEOUT" } }] }));
    const w = mountRow({ row: toRow(traceNode()), expanded: true }, fake.client);
    await flush();
    const panel = w.find('[data-testid="trace-detail"] [role="alert"]');
    expect(panel.text()).toContain("Could not load this trace");
    expect(panel.text()).toContain("Operation timed out");
  });
});
