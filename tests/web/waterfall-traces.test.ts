import { afterEach, describe, expect, it } from "vitest";
import { effectScope } from "vue";
import { useChatTraces } from "../../web/src/composables/useChatTraces";
import { EMPTY_FILTER, type WaterfallFilter } from "../../web/src/lib/trace-filter";
import { flush, node, server, T0 } from "./waterfall-helpers";

const scopes: ReturnType<typeof effectScope>[] = [];
afterEach(() => {
  for (const s of scopes.splice(0)) s.stop();
});

function setup(total: number, filter: WaterfallFilter = EMPTY_FILTER, filtered?: (i: number) => boolean) {
  const fake = server(total, filtered);
  const scope = effectScope();
  scopes.push(scope);
  const traces = scope.run(() => useChatTraces(() => "chat", () => filter, { client: fake.client, resyncDelayMs: 0, maxPages: 4 }))!;
  return { traces, fake };
}

const settle = async () => {
  await flush(3);
  await new Promise((r) => setTimeout(r, 60));
  await flush(6);
};

describe("useChatTraces: pages", () => {
  it("reads the index with the first page, then fetches the pages the viewport needs", async () => {
    const { traces, fake } = setup(1000);
    await settle();
    expect(traces.status.value).toBe("ready");
    expect(traces.total.value).toBe(1000);
    expect(traces.eventCursor.value).toBe("ev0");
    expect(traces.rowAt(0)?.id).toBe("t0");
    expect(traces.rowAt(199)?.id).toBe("t199");
    expect(traces.rowAt(200)).toBeUndefined();

    traces.setViewport(610, 640);
    await settle();
    // Page 3 (rows 600–799) after cursor c599, and its neighbours 2 and 4.
    const afters = fake.named("WaterfallPage").map((o) => o.variables.after);
    expect(afters.slice(0, 2)).toEqual(["c599", "c799"]);
    await settle();
    expect(traces.rowAt(610)?.id).toBe("t610");
    expect(traces.rowAt(999)?.id).toBe("t999");
    expect(traces.pageStateAt(610)).toBe("ready");
  });

  it("keeps at most maxPages pages, dropping the far ones", async () => {
    const { traces } = setup(4000);
    await settle();
    for (const first of [1000, 2000, 3000, 3900]) {
      traces.setViewport(first, first + 40);
      await settle();
      await settle();
      expect(traces.heldPages().length).toBeLessThanOrEqual(4);
      expect(traces.rowAt(first)?.id).toBe(`t${first}`);
    }
    expect(traces.rowAt(0)).toBeUndefined();
    expect(traces.heldRows()).toBeLessThanOrEqual(800);
  });
});

describe("useChatTraces: live", () => {
  it("appends a started trace once, bumps M, and updates it on finish", async () => {
    const { traces } = setup(250);
    await settle();
    traces.setViewport(200, 249);
    await settle();
    expect(traces.rowAt(249)?.id).toBe("t249");

    const started = node(300, { id: "live1", status: "running", finishedAt: null, latencyMs: null });
    traces.applyTraceEvent("trace_started", started);
    expect(traces.total.value).toBe(251);
    expect(traces.rowAt(250)?.status).toBe("running");
    // The same start again (a replay) changes nothing.
    traces.applyTraceEvent("trace_started", started);
    expect(traces.total.value).toBe(251);

    traces.applyTraceEvent("trace_finished", { ...started, status: "error" as const, error: "boom", finishedAt: new Date(T0 + 301_000).toISOString(), latencyMs: 1000 });
    expect(traces.total.value).toBe(251);
    expect(traces.rowAt(250)).toMatchObject({ id: "live1", status: "error", error: "boom", latencyMs: 1000 });
    expect(traces.liveTurnStarts.value.get(1)).toBe(250);
  });

  it("does not count a finish of a trace it already has in its total", async () => {
    const { traces } = setup(50);
    await settle();
    traces.applyTraceEvent("trace_finished", node(10, { status: "error" }));
    expect(traces.total.value).toBe(50);
    expect(traces.rowAt(10)?.status).toBe("error");
  });

  it("reads the index again when a start belongs before the last row", async () => {
    const { traces, fake } = setup(50);
    await settle();
    traces.applyTraceEvent("trace_started", node(-5, { id: "early" }));
    await settle();
    expect(fake.named("WaterfallIndex").length).toBe(2);
    expect(traces.total.value).toBe(50);
  });

  it("does not double a trace the index counted when its start event arrives late", async () => {
    const { traces, fake } = setup(500);
    await settle();
    expect(traces.rowAt(450)).toBeUndefined();
    traces.applyTraceEvent("trace_started", node(450));
    expect(traces.total.value).toBe(500);
    await settle();
    expect(fake.named("WaterfallIndex").length).toBe(2);
    expect(traces.total.value).toBe(500);
  });

  it("reconciles M with the turns' count", async () => {
    const { traces, fake } = setup(80);
    await settle();
    expect(traces.reconcile(80)).toBe(false);
    await settle();
    expect(fake.named("WaterfallIndex").length).toBe(1);
    // A first disagreement asks for another read; only a confirmed one reads the index again.
    expect(traces.reconcile(81)).toBe(true);
    await settle();
    expect(fake.named("WaterfallIndex").length).toBe(1);
    expect(traces.reconcile(81)).toBe(false);
    await settle();
    expect(fake.named("WaterfallIndex").length).toBe(2);
  });

  it("with errors only, adds a trace whose finish makes it match, once", async () => {
    const filter = { ...EMPTY_FILTER, errorsOnly: true };
    const { traces } = setup(500, filter, (i) => i % 50 === 49);
    await settle();
    expect(traces.total.value).toBe(10);
    const started = node(600, { id: "x", status: "running", finishedAt: null, latencyMs: null });
    traces.applyTraceEvent("trace_started", started);
    expect(traces.total.value).toBe(10);
    const finished = { ...started, status: "error" as const, latencyMs: 5 };
    traces.applyTraceEvent("trace_finished", finished);
    expect(traces.total.value).toBe(11);
    expect(traces.rowAt(10)?.id).toBe("x");
    traces.applyTraceEvent("trace_finished", finished);
    expect(traces.total.value).toBe(11);
  });
});

describe("useChatTraces: seeking", () => {
  it("finds the next error in held rows, then through the API beyond them", async () => {
    const { traces, fake } = setup(1000);
    await settle();
    expect(await traces.findNextError(-1)).toBe(49);
    expect(await traces.findNextError(49)).toBe(99);
    // Rows past 199 are not held (page 1 is, as a prefetch): from 349 on, the API answers.
    traces.setViewport(0, 10);
    await settle();
    expect(traces.rowAt(420)).toBeUndefined();
    const next = await traces.findNextError(399);
    expect(next).toBe(449);
    expect(fake.named("TraceSeek").length).toBeGreaterThanOrEqual(2);
    expect(await traces.findNextError(999)).toBeNull();
  });

  it("finds a trace's row index by counting what starts before it", async () => {
    const { traces, fake } = setup(500);
    await settle();
    expect(await traces.indexOfTrace("t10")).toBe(10);
    expect(fake.named("TraceLocate")).toHaveLength(0);
    expect(await traces.indexOfTrace("t321")).toBe(321);
    expect(fake.named("TraceLocate")[0]!.variables).toEqual({ traceId: "t321" });
  });
});
