import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import AxisHeader from "../../web/src/components/waterfall/AxisHeader.vue";
import TimingBar from "../../web/src/components/waterfall/TimingBar.vue";
import { buildTimeAxis } from "../../web/src/lib/time-axis";

const S = 1000;
const axis = buildTimeAxis([{ start: 0, end: 100 * S }], { width: 1000 });

describe("TimingBar (mounted)", () => {
  it("places a finished bar from start to finish", () => {
    const w = mount(TimingBar, { props: { axis, start: 10 * S, end: 30 * S, now: 90 * S, status: "ok" } });
    expect(w.attributes("style")).toContain("translateX(100px)");
    expect(w.attributes("style")).toContain("width: 200px");
    expect(w.classes()).toContain("tone-ok");
    expect(w.classes()).not.toContain("running");
  });

  it("grows a running bar with now, then settles at its finish", async () => {
    const w = mount(TimingBar, { props: { axis, start: 10 * S, end: null, now: 40 * S, status: "running" } });
    expect(w.attributes("data-width")).toBe("300.0");
    expect(w.classes()).toContain("running");
    await w.setProps({ now: 60 * S });
    expect(w.attributes("data-width")).toBe("500.0");
    await w.setProps({ end: 45 * S, status: "error", now: 70 * S });
    expect(w.attributes("data-width")).toBe("350.0");
    expect(w.classes()).not.toContain("running");
    expect(w.classes()).toContain("tone-error");
  });

  it("marks a bar that crosses a compressed gap", () => {
    const gapped = buildTimeAxis(
      [
        { start: 0, end: 60 * S },
        { start: 3 * 3600 * S, end: 3 * 3600 * S + 60 * S },
      ],
      { width: 600, gapThresholdMs: 60 * S },
    );
    const w = mount(TimingBar, { props: { axis: gapped, start: 30 * S, end: 3 * 3600 * S + 30 * S, now: 0, status: "ok" } });
    expect(w.classes()).toContain("broken");
  });
});

describe("AxisHeader", () => {
  it("labels compressed gaps with their idle time and puts ticks on the spans", () => {
    const gapped = buildTimeAxis(
      [
        { start: 0, end: 10 * 60 * S },
        { start: 10 * 60 * S + 3 * 3600 * S + 12 * 60 * S, end: 20 * 60 * S + 3 * 3600 * S + 12 * 60 * S },
      ],
      { width: 1000, gapThresholdMs: 60 * S },
    );
    const w = mount(AxisHeader, { props: { axis: gapped, now: null } });
    const gaps = w.findAll('[data-testid="gap-marker"]');
    expect(gaps).toHaveLength(1);
    expect(gaps[0]!.text()).toBe("⋯ 3 h 12 m idle");
    expect(gaps[0]!.attributes("style")).toContain("width: 28px");
    expect(w.findAll(".tick").length).toBeGreaterThanOrEqual(4);
  });
});
