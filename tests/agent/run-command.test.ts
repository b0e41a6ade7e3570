// runCommand with the sandbox "off": real child processes, real process groups, no mocks.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { childEnv, FIXED_CHILD_ENV, PASSED_THROUGH } from "../../server/agent/child-env.js";
import { CommandCancelledError, CommandNotFoundError, InvalidCommandError, SandboxUnavailableError } from "../../server/agent/command-errors.js";
import { cutNote } from "../../server/agent/output-cap.js";
import { runCommand, type RunCommandOptions } from "../../server/agent/run-command.js";
import { isAlive, makeTempDir, removeDir, waitUntil } from "./helpers.js";

let ws: string;
beforeEach(() => {
  ws = makeTempDir();
});
afterEach(() => removeDir(ws));

const run = (options: Omit<RunCommandOptions, "workspace" | "sandbox"> & Partial<RunCommandOptions>) =>
  runCommand({ workspace: ws, sandbox: { kind: "off" }, ...options });
const script = (name: string, source: string) => writeFileSync(join(ws, name), source);
const bytes = (s: string) => Buffer.byteLength(s, "utf8");

/**
 * The child prints "started", spawns two grandchildren in its own process group that hold its
 * stdout and stderr open — `sleep 30` and a node that ignores SIGTERM — and writes their pids to
 * pids.json. With "stubborn", the child ignores SIGTERM too.
 */
const TREE = `
const { spawn } = require("node:child_process");
const fs = require("node:fs");
if (process.argv[2] === "stubborn") process.on("SIGTERM", () => {});
const sleeper = spawn("sleep", ["30"], { stdio: ["ignore", "inherit", "inherit"] });
const stubborn = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); console.log('stubborn ready'); setInterval(() => {}, 1000)"], { stdio: ["ignore", "inherit", "inherit"] });
fs.writeFileSync("pids.json", JSON.stringify({ child: process.pid, sleeper: sleeper.pid, stubborn: stubborn.pid }));
console.log("started");
setInterval(() => {}, 1000);
`;
const treePids = () => JSON.parse(readFileSync(join(ws, "pids.json"), "utf8")) as { child: number; sleeper: number; stubborn: number };
const allDead = (pids: number[]) => waitUntil(() => pids.every((pid) => !isAlive(pid)), 3_000);

describe("timeouts and cancellation kill the whole process group", () => {
  test("a timeout kills the child and its grandchildren, even those ignoring SIGTERM (after the grace)", async () => {
    script("tree.cjs", TREE);
    // 2.5 s: time enough for the tree to start on a busy machine.
    const result = await run({ program: "node", args: ["tree.cjs", "stubborn"], timeoutMs: 2_500, killGraceMs: 300 });
    const pids = treePids();
    expect(result).toMatchObject({ timedOut: true, cancelled: false, exitCode: null, signal: "SIGKILL", timeoutMs: 2_500 });
    expect(result.output).toContain("started");
    expect(result.output).toContain("stubborn ready");
    expect(result.durationMs).toBeGreaterThanOrEqual(2_500 - 5);
    expect(result.durationMs).toBeLessThan(2_500 + 300 + 2_500);
    expect(await allDead([pids.child, pids.sleeper, pids.stubborn])).toBe(true);
  }, 15_000);

  test("a child that obeys SIGTERM ends with SIGTERM, and its grandchildren go too", async () => {
    script("tree.cjs", TREE);
    const result = await run({ program: "node", args: ["tree.cjs"], timeoutMs: 2_000, killGraceMs: 200 });
    const pids = treePids();
    expect(result).toMatchObject({ timedOut: true, cancelled: false, exitCode: null, signal: "SIGTERM" });
    expect(await allDead([pids.child, pids.sleeper, pids.stubborn])).toBe(true);
  }, 15_000);

  test("aborting the signal kills the group and reports cancelled", async () => {
    script("tree.cjs", TREE);
    const controller = new AbortController();
    const running = run({ program: "node", args: ["tree.cjs"], timeoutMs: 20_000, killGraceMs: 300, signal: controller.signal });
    expect(await waitUntil(() => existsSync(join(ws, "pids.json")), 10_000)).toBe(true);
    const pids = treePids();
    expect(isAlive(pids.sleeper)).toBe(true);
    controller.abort();
    const result = await running;
    expect(result).toMatchObject({ cancelled: true, timedOut: false, exitCode: null });
    expect(result.signal === "SIGTERM" || result.signal === "SIGKILL").toBe(true);
    expect(result.durationMs).toBeLessThan(10_000);
    expect(await allDead([pids.child, pids.sleeper, pids.stubborn])).toBe(true);
  }, 20_000);

  test("a signal aborted before the start runs nothing", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(run({ program: "touch", args: ["marker"], signal: controller.signal })).rejects.toBeInstanceOf(CommandCancelledError);
    expect(existsSync(join(ws, "marker"))).toBe(false);
  });

  test("what a command leaves running in its group is killed when it exits", async () => {
    script(
      "background.cjs",
      `const { spawn } = require("node:child_process");
       const bg = spawn("sleep", ["30"], { stdio: "ignore" });
       bg.unref();
       require("node:fs").writeFileSync("bg.pid", String(bg.pid));`,
    );
    const result = await run({ program: "node", args: ["background.cjs"], timeoutMs: 10_000 });
    expect(result).toMatchObject({ exitCode: 0, signal: null, timedOut: false });
    const pid = Number(readFileSync(join(ws, "bg.pid"), "utf8"));
    expect(pid).toBeGreaterThan(0);
    expect(await allDead([pid])).toBe(true);
  }, 15_000);

  test("timeoutMs is lowered to maxTimeoutMs, and the result says which applied", async () => {
    const result = await run({ program: "sleep", args: ["30"], timeoutMs: 3_600_000, maxTimeoutMs: 500, killGraceMs: 100 });
    expect(result).toMatchObject({ timedOut: true, timeoutMs: 500, signal: "SIGTERM" });
    expect(result.durationMs).toBeLessThan(5_000);
    const quick = await run({ program: "true" });
    expect(quick).toMatchObject({ exitCode: 0, timedOut: false, timeoutMs: 30_000 });
  }, 15_000);

  test.each([0, -1, 1.5, Number.NaN])("timeoutMs %s is refused before anything runs", async (timeoutMs) => {
    await expect(run({ program: "touch", args: ["marker"], timeoutMs })).rejects.toBeInstanceOf(InvalidCommandError);
    expect(existsSync(join(ws, "marker"))).toBe(false);
  });
});

describe("results", () => {
  test("the exit code and the signal are reported", async () => {
    expect(await run({ program: "node", args: ["-e", "process.exit(7)"] })).toMatchObject({ exitCode: 7, signal: null, timedOut: false, cancelled: false });
    expect(await run({ program: "true" })).toMatchObject({ exitCode: 0, signal: null });
    expect(await run({ program: "node", args: ["-e", "process.kill(process.pid, 'SIGKILL')"] })).toMatchObject({ exitCode: null, signal: "SIGKILL", timedOut: false });
  });

  test("stdout and stderr are interleaved in arrival order", async () => {
    script(
      "both.cjs",
      `const wait = (ms) => new Promise((r) => setTimeout(r, ms));
       (async () => { process.stdout.write("out1 "); await wait(150); process.stderr.write("err1 "); await wait(150); process.stdout.write("out2\\n"); })();`,
    );
    const result = await run({ program: "node", args: ["both.cjs"] });
    expect(result.output).toBe("out1 err1 out2\n");
    expect(result).toMatchObject({ outputBytes: bytes("out1 err1 out2\n"), truncated: false });
  });

  test("1 MB of output keeps the head, the tail and a note of the bytes cut, within the cap, no character split", async () => {
    script(
      "big.cjs",
      `process.stdout.write("HEAD>" + "€".repeat(350000), () => setTimeout(() => process.stderr.write("<TAIL é\\n"), 200));`,
    );
    const result = await run({ program: "node", args: ["big.cjs"], outputCapBytes: 32_768 });
    const total = 5 + 3 * 350_000 + bytes("<TAIL é\n");
    expect(result).toMatchObject({ exitCode: 0, truncated: true, outputBytes: total });
    expect(bytes(result.output)).toBeLessThanOrEqual(32_768);
    expect(bytes(result.output)).toBeGreaterThan(32_768 - 64);
    expect(result.output.startsWith("HEAD>€€€")).toBe(true);
    expect(result.output.endsWith("€€€<TAIL é\n")).toBe(true);
    expect(result.output).not.toContain("\uFFFD");
    const note = /\n… \[([\d,]+) bytes cut\] …\n/.exec(result.output);
    expect(note).not.toBeNull();
    const cut = Number(note![1]!.replaceAll(",", ""));
    expect(bytes(result.output) - bytes(cutNote(cut)) + cut).toBe(total);
  }, 15_000);

  test("a missing program is a CommandNotFoundError, not a crash; so is a file that cannot be executed", async () => {
    await expect(run({ program: "tracedeck-no-such-program" })).rejects.toMatchObject({ code: "COMMAND_NOT_FOUND", program: "tracedeck-no-such-program" });
    await expect(run({ program: "./missing.sh" })).rejects.toBeInstanceOf(CommandNotFoundError);
    script("not-executable.sh", "#!/bin/sh\ntouch marker\n");
    await expect(run({ program: "./not-executable.sh" })).rejects.toBeInstanceOf(CommandNotFoundError);
    chmodSync(join(ws, "not-executable.sh"), 0o755);
    expect(await run({ program: "./not-executable.sh" })).toMatchObject({ exitCode: 0 });
    expect(existsSync(join(ws, "marker"))).toBe(true);
  });

  test("durationMs comes from the monotonic clock, not the wall clock", async () => {
    const frozen = vi.spyOn(Date, "now").mockReturnValue(1_000_000);
    try {
      const result = await run({ program: "node", args: ["-e", "setTimeout(() => {}, 300)"] });
      expect(result.durationMs).toBeGreaterThanOrEqual(290);
      expect(result.durationMs).toBeLessThan(10_000);
    } finally {
      frozen.mockRestore();
    }
  });

  test("a sandbox that is unavailable refuses every command and runs nothing", async () => {
    await expect(run({ program: "touch", args: ["marker"], sandbox: { kind: "unavailable", reason: "no bwrap" } })).rejects.toBeInstanceOf(SandboxUnavailableError);
    expect(existsSync(join(ws, "marker"))).toBe(false);
  });

  test("an output cap too small for the note is refused", async () => {
    await expect(run({ program: "true", outputCapBytes: 10 })).rejects.toBeInstanceOf(InvalidCommandError);
  });
});

describe("the child's environment", () => {
  const secrets = {
    TRACEDECK_TEST_SECRET: "tracedeck-test-secret-value-1",
    OPENAI_API_KEY: "sk-test-secret-value-2",
    DATABASE_URL: "postgresql://user:secret-value-3@127.0.0.1/db",
    CURSOR_SECRET: "secret-value-4",
  };
  let saved: Record<string, string | undefined>;
  beforeEach(() => {
    saved = Object.fromEntries(Object.keys(secrets).map((name) => [name, process.env[name]]));
    Object.assign(process.env, secrets);
  });
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  test("holds only the allowlist, with HOME set to the workspace: no secret of the server's", async () => {
    const result = await run({ program: "node", args: ["-e", "process.stdout.write(JSON.stringify(process.env))"] });
    const env = JSON.parse(result.output) as Record<string, string>;
    const allowed = new Set<string>(["PATH", "HOME", "PWD", ...PASSED_THROUGH, ...Object.keys(FIXED_CHILD_ENV)]);
    expect(Object.keys(env).filter((name) => !allowed.has(name))).toEqual([]);
    expect(env.HOME).toBe(ws);
    expect(env.PWD).toBe(ws);
    for (const value of Object.values(secrets)) expect(result.output).not.toContain(value);

    const listed = await run({ program: "env" });
    expect(listed.exitCode).toBe(0);
    expect(listed.output).toContain(`HOME=${ws}\n`);
    for (const [name, value] of Object.entries(secrets)) {
      expect(listed.output).not.toContain(name);
      expect(listed.output).not.toContain(value);
    }
  });

  test("childEnv passes the locale through and takes extra variables from the caller", async () => {
    const env = childEnv({ workspace: ws, from: { LANG: "de_DE.UTF-8", TZ: "Europe/Berlin", OPENAI_API_KEY: "x" }, extra: { FOO: "bar" } });
    expect(env).toMatchObject({ LANG: "de_DE.UTF-8", TZ: "Europe/Berlin", TERM: "dumb", FOO: "bar", HOME: ws });
    expect(env).not.toHaveProperty("OPENAI_API_KEY");
    const result = await run({ program: "node", args: ["-e", "process.stdout.write(process.env.FOO + ' ' + process.env.TZ)"], env });
    expect(result.output).toBe("bar Europe/Berlin");
  });
});
