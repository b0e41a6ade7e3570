// Small statistics helpers shared by the measurements.
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: p99 of 200 samples is the 198th, not an interpolation past the data.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export const median = (values: number[]) => percentile(values, 0.5);

export const round = (value: number, digits = 1) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);

/** Milliseconds on a clock two processes share: each process's performance.now() is from its own origin. */
export const sharedNow = () => performance.timeOrigin + performance.now();
