/**
 * The auto-fix loop's decisions, as pure functions (the loop itself, which runs turns, lives with
 * the agent loop). Aider's "auto-lint/auto-test" pattern: after a turn that changed files, build;
 * when the build fails, hand its errors to the model as the next user message and let it fix them.
 *
 * How the loop counts (maxAttempts = 3, the default):
 *
 *   user's turn writes files (a WRITE_TOOLS call) → build #1            attempt = 0
 *     passed → stop, "build passed"
 *     failed → fix turn 1 (fixMessage(…, 1, 3)) → build #2                attempt = 1
 *       passed → stop, "build passed after 1 attempt"
 *       failed → fix turn 2 → build #3                                    attempt = 2
 *         failed → fix turn 3 → build #4                                  attempt = 3
 *           passed → stop, "build passed after 3 attempts"
 *           failed → stop, "build still failing after 3 attempts; auto-fix stopped"
 *
 * `attempt` is always the number of fix turns already run in this loop when a build's result is
 * decided (0 for the build after the user's own turn). So at most maxAttempts fix turns and
 * maxAttempts + 1 builds run. A turn that writes no files is not followed by a build (the loop's
 * call: with WRITE_TOOLS); maxAttempts = 0 means build and report, never fix.
 */
import { capOutputText } from "../output-cap.js";

export const DEFAULT_FIX_ATTEMPTS = 3;

/** The tools whose use in a turn means files changed, so the build runs after the turn. */
export const WRITE_TOOLS: readonly string[] = ["write_file", "edit_file"];

/** The most of the build's output quoted in a fix message (head and tail around a note). */
export const FIX_OUTPUT_CAP_BYTES = 8_192;

/** What a fix message needs of a failed build. */
export interface FailedBuild {
  /** The command as typed: `npm run build`. */
  display: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The build's output (BuildToolResult.commandOutput, or output with its exit line). */
  output: string;
}

export type BuildDecision = { kind: "passed"; outcome: string } | { kind: "retry"; nextAttempt: number } | { kind: "exhausted"; outcome: string };

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer of at least ${min}, not ${value}`);
}

const attempts = (n: number) => `${n} attempt${n === 1 ? "" : "s"}`;

/** A fence longer than any run of backticks in the text, so the text cannot close it. */
function fenceFor(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return "`".repeat(Math.max(3, longest + 1));
}

/**
 * The user message of fix turn `attempt` (1-based) of `maxAttempts`:
 *
 *   The build failed (npm run build, exit code 1) — auto-fix attempt 1 of 3. Fix these errors:
 *
 *   ```
 *   src/stats.mjs:3: example failed: mean([2, 4, 6]) returned 6, expected 4
 *   ```
 *
 * It always contains "The build failed". The output is capped at FIX_OUTPUT_CAP_BYTES (head and
 * tail, output-cap.ts).
 */
export function fixMessage(build: FailedBuild, attempt: number, maxAttempts: number): string {
  checkCount("attempt", attempt, 1);
  checkCount("maxAttempts", maxAttempts, attempt);
  const how = build.timedOut ? "timed out" : build.exitCode !== null ? `exit code ${build.exitCode}` : `killed by ${build.signal ?? "a signal"}`;
  const header = `The build failed (${build.display}, ${how}) — auto-fix attempt ${attempt} of ${maxAttempts}. Fix these errors:`;
  const errors = capOutputText(build.output, FIX_OUTPUT_CAP_BYTES).replace(/\s+$/, "");
  if (errors === "") return `${header}\n\n(The build printed nothing.)`;
  const fence = fenceFor(errors);
  return `${header}\n\n${fence}\n${errors}\n${fence}`;
}

/**
 * What to do once a build's result is known. `attempt`: the fix turns already run in this loop
 * (0 after the user's own turn), at most maxAttempts. Throws a RangeError on counts that cannot be.
 */
export function decideAfterBuild(input: { passed: boolean; attempt: number; maxAttempts: number }): BuildDecision {
  const { passed, attempt, maxAttempts } = input;
  checkCount("maxAttempts", maxAttempts, 0);
  checkCount("attempt", attempt, 0);
  if (attempt > maxAttempts) throw new RangeError(`attempt ${attempt} is beyond maxAttempts ${maxAttempts}`);
  if (passed) return { kind: "passed", outcome: attempt === 0 ? "build passed" : `build passed after ${attempts(attempt)}` };
  if (attempt < maxAttempts) return { kind: "retry", nextAttempt: attempt + 1 };
  if (attempt === 0) return { kind: "exhausted", outcome: "build failed; auto-fix is off" };
  return { kind: "exhausted", outcome: `build still failing after ${attempts(attempt)}; auto-fix stopped` };
}
