// The start-up check for commands a dead server left running must never take a live server's
// sandboxed command for one: under bwrap the command's group leader is bwrap's own init, whose
// parent is bwrap (not Node); the check looks at every ancestor. Needs bwrap: it fails without.
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { orphanedCommandGroups } from "../../server/agent/leftover-commands.js";
import { runCommand } from "../../server/agent/run-command.js";
import { defaultBwrapPath, detectSandbox, type Sandbox } from "../../server/agent/sandbox.js";
import { makeTempDir, removeDir } from "../agent/helpers.js";

let sandbox: Sandbox;
let root: string;

beforeAll(async () => {
  const bwrap = defaultBwrapPath();
  if (bwrap === null) throw new Error("this test needs bubblewrap: apt-get install -y bubblewrap");
  sandbox = await detectSandbox("bwrap", { bwrapPath: bwrap });
  root = makeTempDir("tracedeck-leftover-root-");
});
afterAll(() => removeDir(root));

test("a running sandboxed command of this live server is not a leftover; once it ends nothing is listed", async () => {
  const workspace = join(root, "chat-a");
  (await import("node:fs")).mkdirSync(workspace);
  const controller = new AbortController();
  const running = runCommand({ program: "sleep", args: ["20"], workspace, sandbox, timeoutMs: 30_000, signal: controller.signal });
  try {
    // Give bwrap time to set up its namespaces and start the command.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await orphanedCommandGroups(root)).toEqual([]);
  } finally {
    controller.abort();
    await running.catch(() => undefined);
  }
  expect(await orphanedCommandGroups(root)).toEqual([]);
}, 40_000);
