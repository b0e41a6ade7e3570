import { describe, expect, test } from "vitest";
import { DEFAULT_FIX_ATTEMPTS, FIX_OUTPUT_CAP_BYTES, WRITE_TOOLS, decideAfterBuild, fixMessage } from "../../../server/agent/autofix/fix-loop.js";
import { editFileTool, writeFileTool } from "../../../server/agent/tools/index.js";

const failed = { display: "npm run build", exitCode: 1, signal: null, timedOut: false, output: "src/stats.mjs:3: example failed\nbuild failed: 1 problem\n" };

describe("fixMessage", () => {
  test("the header names the command, how it failed and the attempt; the errors are fenced", () => {
    expect(fixMessage(failed, 1, 3)).toBe(
      "The build failed (npm run build, exit code 1) — auto-fix attempt 1 of 3. Fix these errors:\n\n```\nsrc/stats.mjs:3: example failed\nbuild failed: 1 problem\n```",
    );
    expect(fixMessage({ ...failed, exitCode: null, signal: "SIGKILL" }, 2, 3)).toMatch(/^The build failed \(npm run build, killed by SIGKILL\) — auto-fix attempt 2 of 3\./);
    expect(fixMessage({ ...failed, exitCode: null, signal: "SIGTERM", timedOut: true }, 3, 3)).toMatch(/^The build failed \(npm run build, timed out\) — auto-fix attempt 3 of 3\./);
  });

  test("a long output keeps its head and tail within the cap", () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `src/a.mjs:${i + 1}: error number ${i + 1}`).join("\n");
    const message = fixMessage({ ...failed, output: lines }, 1, 3);
    expect(message).toContain("src/a.mjs:1: error number 1\n");
    expect(message).toContain("src/a.mjs:2000: error number 2000\n```");
    expect(message).toMatch(/… \[[\d,]+ bytes cut\] …/);
    const block = message.slice(message.indexOf("```\n") + 4, message.lastIndexOf("\n```"));
    expect(Buffer.byteLength(block)).toBeLessThanOrEqual(FIX_OUTPUT_CAP_BYTES);
  });

  test("an output holding a fence gets a longer fence; an empty output says so", () => {
    const message = fixMessage({ ...failed, output: "```js\nbad\n```\n" }, 1, 1);
    expect(message).toContain("\n\n````\n```js\nbad\n```\n````");
    expect(fixMessage({ ...failed, output: "\n" }, 1, 1)).toMatch(/Fix these errors:\n\n\(The build printed nothing\.\)$/);
  });

  test("impossible counts are refused", () => {
    expect(() => fixMessage(failed, 0, 3)).toThrow(RangeError);
    expect(() => fixMessage(failed, 4, 3)).toThrow(RangeError);
  });
});

describe("decideAfterBuild", () => {
  test("the whole loop with maxAttempts 3: at most 3 fix turns, 4 builds", () => {
    expect(decideAfterBuild({ passed: true, attempt: 0, maxAttempts: 3 })).toEqual({ kind: "passed", outcome: "build passed" });
    expect(decideAfterBuild({ passed: false, attempt: 0, maxAttempts: 3 })).toEqual({ kind: "retry", nextAttempt: 1 });
    expect(decideAfterBuild({ passed: true, attempt: 1, maxAttempts: 3 })).toEqual({ kind: "passed", outcome: "build passed after 1 attempt" });
    expect(decideAfterBuild({ passed: false, attempt: 1, maxAttempts: 3 })).toEqual({ kind: "retry", nextAttempt: 2 });
    expect(decideAfterBuild({ passed: true, attempt: 2, maxAttempts: 3 })).toEqual({ kind: "passed", outcome: "build passed after 2 attempts" });
    expect(decideAfterBuild({ passed: false, attempt: 2, maxAttempts: 3 })).toEqual({ kind: "retry", nextAttempt: 3 });
    expect(decideAfterBuild({ passed: true, attempt: 3, maxAttempts: 3 })).toEqual({ kind: "passed", outcome: "build passed after 3 attempts" });
    expect(decideAfterBuild({ passed: false, attempt: 3, maxAttempts: 3 })).toEqual({ kind: "exhausted", outcome: "build still failing after 3 attempts; auto-fix stopped" });

    // Played as a loop: a build that never passes runs maxAttempts fix turns.
    let attempt = 0;
    let builds = 0;
    const fixTurns: number[] = [];
    for (;;) {
      builds++;
      const decision = decideAfterBuild({ passed: false, attempt, maxAttempts: DEFAULT_FIX_ATTEMPTS });
      if (decision.kind !== "retry") break;
      attempt = decision.nextAttempt;
      fixTurns.push(attempt);
    }
    expect(fixTurns).toEqual([1, 2, 3]);
    expect(builds).toBe(4);
  });

  test("maxAttempts 0: build and report, never fix; 1 attempt reads singular", () => {
    expect(decideAfterBuild({ passed: false, attempt: 0, maxAttempts: 0 })).toEqual({ kind: "exhausted", outcome: "build failed; auto-fix is off" });
    expect(decideAfterBuild({ passed: true, attempt: 0, maxAttempts: 0 })).toEqual({ kind: "passed", outcome: "build passed" });
    expect(decideAfterBuild({ passed: false, attempt: 1, maxAttempts: 1 })).toEqual({ kind: "exhausted", outcome: "build still failing after 1 attempt; auto-fix stopped" });
  });

  test("impossible counts are refused", () => {
    expect(() => decideAfterBuild({ passed: false, attempt: 4, maxAttempts: 3 })).toThrow(RangeError);
    expect(() => decideAfterBuild({ passed: false, attempt: -1, maxAttempts: 3 })).toThrow(RangeError);
    expect(() => decideAfterBuild({ passed: false, attempt: 0.5, maxAttempts: 3 })).toThrow(RangeError);
  });
});

test("the constants", () => {
  expect(DEFAULT_FIX_ATTEMPTS).toBe(3);
  expect(WRITE_TOOLS).toEqual([writeFileTool.name, editFileTool.name]);
});
