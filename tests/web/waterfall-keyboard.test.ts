import urql from "@urql/vue";
import { flushPromises, mount } from "@vue/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { effectScope } from "vue";
import Waterfall from "../../web/src/components/waterfall/Waterfall.vue";
import { useChatTraces } from "../../web/src/composables/useChatTraces";
import type { TurnInfo } from "../../web/src/composables/useTurns";
import { EMPTY_FILTER } from "../../web/src/lib/trace-filter";
import { flush, server, T0 } from "./waterfall-helpers";

// happy-dom lays nothing out: give the scroller a size so the virtualizer renders rows.
const descriptors = {
  clientHeight: Object.getOwnPropertyDescriptor(HTMLElement.prototype, "clientHeight"),
  clientWidth: Object.getOwnPropertyDescriptor(HTMLElement.prototype, "clientWidth"),
  scrollHeight: Object.getOwnPropertyDescriptor(Element.prototype, "scrollHeight"),
};
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 600 });
  Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });
  Object.defineProperty(Element.prototype, "scrollHeight", { configurable: true, get: () => 100_000 });
});
afterAll(() => {
  Object.defineProperty(HTMLElement.prototype, "clientHeight", descriptors.clientHeight!);
  Object.defineProperty(HTMLElement.prototype, "clientWidth", descriptors.clientWidth!);
  if (descriptors.scrollHeight) Object.defineProperty(Element.prototype, "scrollHeight", descriptors.scrollHeight);
});

const tokens = { input: 1, output: 1, cacheRead: 0, cacheWrite: 0, reasoning: 0, tokensUsed: 2 };
const turn = (n: number, firstIndex: number, traceCount: number): TurnInfo => ({
  turn: n,
  traceCount,
  errorCount: 0,
  runningCount: 0,
  startedAt: new Date(T0 + firstIndex * 1000).toISOString(),
  endedAt: new Date(T0 + (firstIndex + traceCount) * 1000).toISOString(),
  firstIndex,
  tokens,
  revision: null,
});

/** Lets fetches and frames run; happy-dom fires no scroll event when scrollTop is set, so it is sent here as a browser would. */
const settle = async () => {
  for (let i = 0; i < 6; i++) {
    await flush(3);
    document.querySelector(".scroller")?.dispatchEvent(new Event("scroll"));
    await new Promise((r) => setTimeout(r, 30));
  }
  await flushPromises();
};

async function mountWaterfall() {
  // 600 traces: turn 1 rows 0–149, turn 2 rows 150–599; rows 49, 99, … are errors.
  const fake = server(600);
  const scope = effectScope();
  const traces = scope.run(() => useChatTraces(() => "chat", () => EMPTY_FILTER, { client: fake.client }))!;
  const w = mount(Waterfall, {
    props: { traces, turns: [turn(1, 0, 150), turn(2, 150, 450)], selectedId: null, filtered: false },
    global: { plugins: [[urql, fake.client]] },
    attachTo: document.body,
  });
  await settle();
  return { w, traces, fake, scope };
}

const focused = () => document.activeElement as HTMLElement | null;
const press = async (w: Awaited<ReturnType<typeof mountWaterfall>>["w"], key: string) => {
  await w.find('[role="treegrid"]').trigger("keydown", { key });
  await settle();
};

describe("Waterfall (mounted)", () => {
  it("renders turn headers and rows as a treegrid with counts", async () => {
    const { w, scope } = await mountWaterfall();
    const grid = w.find('[role="treegrid"]');
    expect(grid.attributes("aria-rowcount")).toBe("602");
    const first = w.find('[data-item="0"] [role="row"]');
    expect(first.attributes("aria-level")).toBe("1");
    expect(first.text()).toContain("Turn 1");
    expect(first.text()).toContain("150 traces");
    expect(w.find('[data-item="1"] [role="row"]').attributes("data-row")).toBe("0");
    expect(w.find('[data-testid="row-counts"]').text()).toContain("600");
    w.unmount();
    scope.stop();
  });

  it("moves with the arrows, expands with Enter, and jumps to the next error with e", async () => {
    const { w, scope } = await mountWaterfall();
    (w.find('[data-item="0"] [role="row"]').element as HTMLElement).focus();
    await press(w, "ArrowDown");
    expect(focused()?.getAttribute("data-row")).toBe("0");
    expect(focused()?.getAttribute("tabindex")).toBe("0");
    await press(w, "ArrowDown");
    expect(focused()?.getAttribute("data-row")).toBe("1");
    await press(w, "Enter");
    expect(w.emitted("select")).toEqual([["t1"]]);
    await press(w, "e");
    expect(focused()?.getAttribute("data-row")).toBe("49");
    await press(w, "n");
    expect(focused()?.getAttribute("data-row")).toBe("99");
    await press(w, "Home");
    expect(focused()?.getAttribute("data-turn")).toBe("1");
    w.unmount();
    scope.stop();
  });

  it("collapses a turn with Enter on its header, hiding its rows", async () => {
    const { w, scope } = await mountWaterfall();
    (w.find('[data-item="0"] [role="row"]').element as HTMLElement).focus();
    await press(w, "Enter");
    const header = w.find('[data-item="0"] [role="row"]');
    expect(header.attributes("aria-expanded")).toBe("false");
    expect(header.text()).toContain("150 hidden");
    expect(w.find('[data-item="1"] [role="row"]').attributes("data-turn")).toBe("2");
    expect(w.find('[role="treegrid"]').attributes("aria-rowcount")).toBe("452");
    await press(w, "ArrowRight");
    expect(w.find('[data-item="0"] [role="row"]').attributes("aria-expanded")).toBe("true");
    w.unmount();
    scope.stop();
  });
});
