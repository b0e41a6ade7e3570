// The auto-fix build (`npm run build` of a copy of demo/workspace) inside the bwrap sandbox. Needs
// bwrap (apt-get install -y bubblewrap); without it this file FAILS, it never skips.
import { cpSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, expect, test } from "vitest";
import { resolveBuildCommand } from "../../server/agent/autofix/build-command.js";
import { buildTool } from "../../server/agent/autofix/build-tool.js";
import { defaultBwrapPath, detectSandbox, type Sandbox } from "../../server/agent/sandbox.js";
import { makeTempDir, removeDir } from "../agent/helpers.js";
import { BUGGY_STATS, DEMO_WORKSPACE } from "../agent/autofix/demo-helpers.js";

let sandbox: Sandbox;
let ws: string;

beforeAll(async () => {
  const bwrap = defaultBwrapPath();
  if (bwrap === null) throw new Error("The sandbox tests need bubblewrap, which is not installed: run `apt-get install -y bubblewrap` (Debian/Ubuntu).");
  sandbox = await detectSandbox("bwrap", { bwrapPath: bwrap });
}, 30_000);
beforeEach(() => {
  ws = makeTempDir("tracedeck-sandbox-build-");
  cpSync(DEMO_WORKSPACE, ws, { recursive: true });
});
afterEach(() => removeDir(ws));

const npmBuild = () => {
  const command = resolveBuildCommand(ws, null)!;
  expect(command.display).toBe("npm run build");
  return { program: command.program, args: command.args };
};
const ctx = () => ({ workspace: ws, sandbox, commandTimeouts: { defaultMs: 60_000, maxMs: 120_000 } });

test("npm run build of the demo workspace passes in the sandbox, and npm leaves nothing in the workspace", async () => {
  const before = readdirSync(ws).sort();
  const result = await buildTool.run(npmBuild(), ctx());
  expect(result, result.output).toMatchObject({ passed: true, failed: false, exitCode: 0, timedOut: false });
  expect(result.commandOutput).toContain("> node build.mjs");
  expect(result.commandOutput).toMatch(/build ok\n/);
  // HOME is the workspace: without the build's npm settings, .npm/_logs and the update-notifier stamp land here.
  expect(readdirSync(ws).sort()).toEqual(before);
});

test("npm run build fails in the sandbox when a module is broken, with the error in the output", async () => {
  writeFileSync(join(ws, "src/stats.mjs"), BUGGY_STATS);
  const result = await buildTool.run(npmBuild(), ctx());
  expect(result).toMatchObject({ passed: false, failed: true, exitCode: 1, error: "build failed with exit code 1" });
  expect(result.commandOutput).toContain("src/stats.mjs:2: example failed: mean([2, 4, 6]) returned 6, expected 4");

  writeFileSync(join(ws, "src/stats.mjs"), "export const broken = ;\n");
  const syntax = await buildTool.run(npmBuild(), ctx());
  expect(syntax).toMatchObject({ passed: false, failed: true, exitCode: 1 });
  expect(syntax.commandOutput).toContain("src/stats.mjs:1: SyntaxError: Unexpected token ';'");
});
