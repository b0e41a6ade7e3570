import { describe, expect, it } from "vitest";
import {
  axisTicks,
  barGeometry,
  buildTimeAxis,
  gapMarkers,
  liveAxisEnd,
  mergeIntervals,
  niceStep,
  timeToX,
  xToTime,
} from "../../web/src/lib/time-axis";

const S = 1_000;
const M = 60 * S;
const H = 60 * M;

describe("mergeIntervals", () => {
  it("sorts, merges overlapping and touching intervals, drops invalid ones", () => {
    expect(
      mergeIntervals([
        { start: 50, end: 60 },
        { start: 0, end: 10 },
        { start: 10, end: 20 },
        { start: 15, end: 30 },
        { start: 5, end: 1 },
        { start: Number.NaN, end: 3 },
      ]),
    ).toEqual([
      { start: 0, end: 30 },
      { start: 50, end: 60 },
    ]);
  });
});

describe("buildTimeAxis: linear scale", () => {
  it("maps one busy span linearly onto the width", () => {
    const axis = buildTimeAxis([{ start: 1000, end: 11_000 }], { width: 500 });
    expect(axis.segments).toHaveLength(1);
    expect(timeToX(axis, 1000)).toBe(0);
    expect(timeToX(axis, 6000)).toBe(250);
    expect(timeToX(axis, 11_000)).toBe(500);
    expect(timeToX(axis, 3500)).toBeCloseTo(125, 6);
  });

  it("clamps instants outside the axis to its ends", () => {
    const axis = buildTimeAxis([{ start: 1000, end: 2000 }], { width: 100 });
    expect(timeToX(axis, 0)).toBe(0);
    expect(timeToX(axis, 99_999)).toBe(100);
  });

  it("joins busy clusters separated by less than the threshold into one span", () => {
    const axis = buildTimeAxis(
      [
        { start: 0, end: 10 * S },
        { start: 40 * S, end: 50 * S },
      ],
      { width: 500, gapThresholdMs: M },
    );
    expect(axis.segments.map((s) => s.kind)).toEqual(["span"]);
    expect(timeToX(axis, 25 * S)).toBe(250);
  });

  it("has no segments and maps everything to 0 without intervals", () => {
    const axis = buildTimeAxis([], { width: 300 });
    expect(axis.segments).toEqual([]);
    expect(timeToX(axis, 123)).toBe(0);
  });
});

describe("buildTimeAxis: compressed gaps", () => {
  // Two busy minutes, three hours and twelve minutes idle, then three busy minutes.
  const idle = 3 * H + 12 * M;
  const a = { start: 0, end: 2 * M };
  const b = { start: 2 * M + idle, end: 5 * M + idle };
  const axis = buildTimeAxis([a, b], { width: 528, gapWidth: 28, gapThresholdMs: M });

  it("gives a long idle stretch a fixed small width and the busy spans the rest, by duration", () => {
    expect(axis.segments.map((s) => s.kind)).toEqual(["span", "gap", "span"]);
    const [s1, gap, s2] = axis.segments;
    expect(gap!.x1 - gap!.x0).toBe(28);
    // 500 px for 5 busy minutes: 2 minutes get 200 px, 3 get 300.
    expect(s1!.x1 - s1!.x0).toBeCloseTo(200, 6);
    expect(s2!.x1 - s2!.x0).toBeCloseTo(300, 6);
    expect(s2!.x1).toBe(528);
  });

  it("maps times inside a gap across the gap's width, monotonically", () => {
    expect(timeToX(axis, a.end)).toBeCloseTo(200, 6);
    expect(timeToX(axis, a.end + idle / 2)).toBeCloseTo(214, 6);
    expect(timeToX(axis, b.start)).toBeCloseTo(228, 6);
    let prev = -1;
    for (let t = 0; t <= b.end; t += 7 * M) {
      const x = timeToX(axis, t);
      expect(x).toBeGreaterThanOrEqual(prev);
      prev = x;
    }
  });

  it("inverts with xToTime inside the spans", () => {
    for (const t of [30 * S, M + 5 * S, b.start + 90 * S]) expect(xToTime(axis, timeToX(axis, t))).toBeCloseTo(t, 3);
  });

  it("marks each gap with its idle time", () => {
    const markers = gapMarkers(axis);
    expect(markers).toHaveLength(1);
    expect(markers[0]!.label).toBe("⋯ 3 h 12 m idle");
    expect(markers[0]!.x).toBeCloseTo(200, 6);
    expect(markers[0]!.width).toBe(28);
    expect(markers[0]!.durationMs).toBe(idle);
  });

  it("caps the gaps' share of the width when there are many", () => {
    const many = Array.from({ length: 20 }, (_, i) => ({ start: i * H, end: i * H + M }));
    const ax = buildTimeAxis(many, { width: 400, gapWidth: 28, maxGapShare: 0.3, gapThresholdMs: M });
    const gaps = ax.segments.filter((s) => s.kind === "gap");
    expect(gaps).toHaveLength(19);
    const gapTotal = gaps.reduce((sum, g) => sum + (g.x1 - g.x0), 0);
    expect(gapTotal).toBeCloseTo(120, 6);
    expect(ax.segments[ax.segments.length - 1]!.x1).toBe(400);
  });

  it("keeps an instant span visible (a minimum weight)", () => {
    const ax = buildTimeAxis(
      [
        { start: 0, end: 10 * M },
        { start: 5 * H, end: 5 * H },
      ],
      { width: 1000, gapThresholdMs: M, gapWidth: 20, minSpanShare: 0.05 },
    );
    const spans = ax.segments.filter((s) => s.kind === "span");
    expect(spans[1]!.x1 - spans[1]!.x0).toBeGreaterThan(40);
  });
});

describe("barGeometry", () => {
  const axis = buildTimeAxis([{ start: 0, end: 100 * S }], { width: 1000 });

  it("spans start to finish", () => {
    const g = barGeometry(axis, 10 * S, 30 * S, 50 * S);
    expect(g.x).toBe(100);
    expect(g.width).toBe(200);
    expect(g.running).toBe(false);
  });

  it("grows with now while running", () => {
    const at40 = barGeometry(axis, 10 * S, null, 40 * S);
    const at60 = barGeometry(axis, 10 * S, null, 60 * S);
    expect(at40.running).toBe(true);
    expect(at40.width).toBe(300);
    expect(at60.width).toBe(500);
    expect(at60.x).toBe(100);
  });

  it("is at least minWidth wide and stays inside the track", () => {
    expect(barGeometry(axis, 10 * S, 10 * S, 0, 2).width).toBe(2);
    const atEnd = barGeometry(axis, 100 * S, 100 * S, 0, 4);
    expect(atEnd.x + atEnd.width).toBeLessThanOrEqual(1000);
    expect(atEnd.width).toBe(4);
  });

  it("counts the compressed gaps a bar crosses", () => {
    const gapped = buildTimeAxis(
      [
        { start: 0, end: M },
        { start: 2 * H, end: 2 * H + M },
      ],
      { width: 500, gapThresholdMs: M },
    );
    expect(barGeometry(gapped, 30 * S, 2 * H + 30 * S, 0).gapsCrossed).toBe(1);
    expect(barGeometry(gapped, 0, 30 * S, 0).gapsCrossed).toBe(0);
  });
});

describe("ticks and live ends", () => {
  it("picks nice steps", () => {
    expect(niceStep(3)).toBe(5);
    expect(niceStep(1_100)).toBe(2_000);
    expect(niceStep(40 * M)).toBe(H);
  });

  it("puts ticks at nice instants inside the spans, at least the spacing apart", () => {
    const axis = buildTimeAxis([{ start: 0, end: 10 * M }], { width: 1000 });
    const ticks = axisTicks(axis, 90);
    expect(ticks.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]!.x - ticks[i - 1]!.x).toBeGreaterThanOrEqual(54);
    for (const t of ticks.slice(1)) expect(t.t % t.stepMs).toBe(0);
    expect(ticks.every((t) => t.x >= 0 && t.x <= 1000)).toBe(true);
  });

  it("extends a live axis past now with headroom, and keeps it until now reaches it", () => {
    expect(liveAxisEnd(100, 0, null)).toBe(100);
    expect(liveAxisEnd(100_000, 0, 50_000)).toBe(100_000);
    const end = liveAxisEnd(100_000, 0, 200_000);
    expect(end).toBe(240_000);
    expect(liveAxisEnd(100_000, 0, 210_000, end)).toBe(end);
    expect(liveAxisEnd(100_000, 0, 250_000, end)).toBe(300_000);
  });
});
