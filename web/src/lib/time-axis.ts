// The waterfall's shared time axis: a piecewise-linear map from time (epoch ms) to x (px).
//
// Busy time (where traces run) is drawn to scale; an idle stretch longer than a threshold between
// two busy clusters is compressed to a small fixed width and marked ("⋯ 3 h 12 m idle"), so a chat
// that ran for ten minutes, slept overnight and ran again still fills the track with its work.
// Everything here is pure: the components only measure their width and pass "now".

import { formatIdle } from "./format";

export interface Interval {
  /** epoch ms */
  start: number;
  /** epoch ms, ≥ start */
  end: number;
}

export interface AxisSegment {
  /** "span": busy time drawn to scale; "gap": compressed idle time */
  kind: "span" | "gap";
  t0: number;
  t1: number;
  x0: number;
  x1: number;
}

export interface TimeAxis {
  t0: number;
  t1: number;
  width: number;
  segments: AxisSegment[];
}

export interface AxisOptions {
  /** The track's width in px. */
  width: number;
  /** Idle stretches longer than this are compressed (default 60 s). */
  gapThresholdMs?: number;
  /** The width one compressed gap gets (default 28 px)… */
  gapWidth?: number;
  /** …unless all the gaps together would take more than this share of the width (default 0.3). */
  maxGapShare?: number;
  /** Each busy span gets at least this share of the busy time as its weight, so an instant stays visible (default 0.01). */
  minSpanShare?: number;
}

export const DEFAULT_GAP_THRESHOLD_MS = 60_000;

/** Sorts and merges overlapping or touching intervals; drops invalid ones (NaN, end < start). */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const valid = intervals
    .filter((i) => Number.isFinite(i.start) && Number.isFinite(i.end) && i.end >= i.start)
    .map((i) => ({ start: i.start, end: i.end }))
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Interval[] = [];
  for (const i of valid) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push(i);
  }
  return out;
}

/**
 * Builds the axis over the given busy intervals: clusters separated by more than
 * gapThresholdMs get a gap segment of fixed width between them; the rest of the width is shared
 * by the busy spans in proportion to their duration.
 */
export function buildTimeAxis(intervals: readonly Interval[], options: AxisOptions): TimeAxis {
  const width = Math.max(0, options.width);
  const threshold = options.gapThresholdMs ?? DEFAULT_GAP_THRESHOLD_MS;
  const merged = mergeIntervals(intervals);
  if (merged.length === 0) return { t0: 0, t1: 0, width, segments: [] };

  // Spans: merged clusters, joined across short idle stretches.
  const spans: Interval[] = [];
  for (const i of merged) {
    const last = spans[spans.length - 1];
    if (last && i.start - last.end <= threshold) last.end = Math.max(last.end, i.end);
    else spans.push({ ...i });
  }
  const gapCount = spans.length - 1;
  const gapWidth = gapCount === 0 ? 0 : Math.min(options.gapWidth ?? 28, ((options.maxGapShare ?? 0.3) * width) / gapCount);
  const busy = spans.reduce((sum, s) => sum + (s.end - s.start), 0);
  const floor = Math.max(busy * (options.minSpanShare ?? 0.01), 1);
  const weights = spans.map((s) => Math.max(s.end - s.start, floor));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const available = Math.max(0, width - gapCount * gapWidth);

  const segments: AxisSegment[] = [];
  let x = 0;
  spans.forEach((s, k) => {
    if (k > 0) {
      const prev = spans[k - 1]!;
      segments.push({ kind: "gap", t0: prev.end, t1: s.start, x0: x, x1: x + gapWidth });
      x += gapWidth;
    }
    const w = (available * weights[k]!) / totalWeight;
    segments.push({ kind: "span", t0: s.start, t1: s.end, x0: x, x1: x + w });
    x += w;
  });
  // Rounding: the last segment ends exactly at the width.
  segments[segments.length - 1]!.x1 = width;
  return { t0: spans[0]!.start, t1: spans[spans.length - 1]!.end, width, segments };
}

/** The segment holding t (the first or last one outside the axis). */
function segmentAt(axis: TimeAxis, t: number): AxisSegment | undefined {
  const segs = axis.segments;
  let lo = 0;
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segs[mid]!.t0 <= t) lo = mid;
    else hi = mid - 1;
  }
  return segs[lo];
}

/** x (px) of an instant; clamped to [0, width]. Inside a gap, interpolated across the gap's width. */
export function timeToX(axis: TimeAxis, t: number): number {
  const seg = segmentAt(axis, t);
  if (!seg) return 0;
  if (t <= seg.t0) return seg.x0;
  if (t >= seg.t1) return seg.x1;
  const d = seg.t1 - seg.t0;
  return d <= 0 ? seg.x0 : seg.x0 + ((t - seg.t0) / d) * (seg.x1 - seg.x0);
}

/** The instant at x (px), the inverse of timeToX within the axis. */
export function xToTime(axis: TimeAxis, x: number): number {
  const segs = axis.segments;
  if (segs.length === 0) return 0;
  const seg = segs.find((s) => x <= s.x1) ?? segs[segs.length - 1]!;
  if (x <= seg.x0) return seg.t0;
  if (x >= seg.x1) return seg.t1;
  const w = seg.x1 - seg.x0;
  return w <= 0 ? seg.t0 : seg.t0 + ((x - seg.x0) / w) * (seg.t1 - seg.t0);
}

export interface BarGeometry {
  x: number;
  width: number;
  /** compressed gaps the bar crosses (drawn with a break) */
  gapsCrossed: number;
  running: boolean;
}

/**
 * A trace's bar: from its start to its finish, or to `now` while it runs (so it grows as now
 * ticks). At least minWidth px wide, and kept inside the track.
 */
export function barGeometry(axis: TimeAxis, start: number, end: number | null, now: number, minWidth = 2): BarGeometry {
  const running = end == null;
  const stop = Math.max(start, running ? now : end);
  let x = timeToX(axis, start);
  const x1 = timeToX(axis, stop);
  let width = Math.max(x1 - x, minWidth);
  if (x + width > axis.width) x = Math.max(0, axis.width - width);
  width = Math.min(width, axis.width);
  const gapsCrossed = axis.segments.filter((s) => s.kind === "gap" && s.t0 >= start && s.t1 <= stop).length;
  return { x, width, gapsCrossed, running };
}

export interface GapMarker {
  x: number;
  width: number;
  durationMs: number;
  label: string;
}

/** The compressed gaps, to draw as zig-zag bands with their idle time. */
export function gapMarkers(axis: TimeAxis): GapMarker[] {
  return axis.segments
    .filter((s) => s.kind === "gap")
    .map((s) => ({ x: s.x0, width: s.x1 - s.x0, durationMs: s.t1 - s.t0, label: `⋯ ${formatIdle(s.t1 - s.t0)} idle` }));
}

const NICE_STEPS_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
  3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];

/** The smallest "nice" step (1, 2, 5 ms … 1 day) not below ms. */
export function niceStep(ms: number): number {
  for (const s of NICE_STEPS_MS) if (s >= ms) return s;
  return Math.ceil(ms / 86_400_000) * 86_400_000;
}

export interface AxisTick {
  x: number;
  t: number;
  /** the step of its span, for the label's precision */
  stepMs: number;
}

/** Tick marks at nice instants inside each busy span, at least minSpacing px apart (0.6 × at a span's start). */
export function axisTicks(axis: TimeAxis, minSpacing = 90): AxisTick[] {
  const ticks: AxisTick[] = [];
  const push = (x: number, t: number, stepMs: number) => {
    const prev = ticks[ticks.length - 1];
    // A label with milliseconds is about as wide as the spacing: closer ones would overlap.
    if (prev && x - prev.x < minSpacing * 0.9) return;
    ticks.push({ x, t, stepMs });
  };
  for (const seg of axis.segments) {
    if (seg.kind !== "span") continue;
    const w = seg.x1 - seg.x0;
    const d = seg.t1 - seg.t0;
    if (d <= 0 || w < minSpacing / 2) {
      push(seg.x0, seg.t0, d > 0 ? niceStep(d) : 1_000);
      continue;
    }
    const step = niceStep((d * minSpacing) / w);
    const first = Math.ceil(seg.t0 / step) * step;
    if (first - seg.t0 > step / 4) push(seg.x0, seg.t0, step);
    for (let t = first; t <= seg.t1; t += step) push(timeToX(axis, t), t, step);
  }
  return ticks;
}

/**
 * The end of a live axis: the data's end, or, while something runs, now plus some headroom
 * (a fifth of the span, at least 5 s), so a running bar visibly grows towards the end before the
 * scale has to change; `previous` is kept while now has not reached it.
 */
export function liveAxisEnd(dataEnd: number, start: number, now: number | null, previous: number | null = null): number {
  if (now == null || now <= dataEnd) return dataEnd;
  if (previous != null && previous >= now && previous > dataEnd) return previous;
  const span = Math.max(now - start, 0);
  return now + Math.max(span * 0.2, 5_000);
}
