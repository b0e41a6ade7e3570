/**
 * The wait before retry number `failures` (1, 2, …): it doubles from `baseMs` up to `maxMs`, and is
 * drawn from the upper half of that window ("equal jitter"), so many agents that lost the same server
 * do not come back in step, and each still waits at least half the window.
 */
export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const window = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(window / 2 + random() * (window / 2));
}
