// Shared by the auto-fix tests (tests/agent/autofix and tests/agent-sandbox/build.test.ts).
import { join } from "node:path";

export const DEMO_WORKSPACE = join(import.meta.dirname, "../../../demo/workspace");

/** src/stats.mjs whose mean divides by one too few: two of its @example lines fail. */
export const BUGGY_STATS = `/**
 * @example mean([2, 4, 6]) // => 4
 */
export function mean(values) {
  let total = 0;
  for (const value of values) total += value;
  return total / (values.length - 1);
}
`;
