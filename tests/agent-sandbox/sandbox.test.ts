// Commands under bubblewrap: what they can and cannot reach. Needs bwrap (apt-get install -y
// bubblewrap); without it this file FAILS, it never skips. Each confinement is shown failing under
// the sandbox AND, where it matters, succeeding with the sandbox "off", so the test can fail.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { CommandRefusedError, PathOutsideWorkspaceError, SandboxUnavailableError } from "../../server/agent/command-errors.js";
import { runCommand, type RunCommandOptions } from "../../server/agent/run-command.js";
import { defaultBwrapPath, detectSandbox, type Sandbox } from "../../server/agent/sandbox.js";
import { isAlive, makeTempDir, processesWith, removeDir, waitUntil } from "../agent/helpers.js";

const SECRET = `tracedeck-sandbox-secret-${randomBytes(6).toString("hex")}`;
const tag = () => randomBytes(4).toString("hex");

let sandbox: Sandbox;
let ws: string;
let dataDir: string;
/** A process started with SECRET in its environment: its /proc/<pid>/environ holds it. */
let holder: ChildProcess;
const leftovers: number[] = [];

beforeAll(async () => {
  const bwrap = defaultBwrapPath();
  if (bwrap === null) {
    throw new Error("The sandbox tests need bubblewrap, which is not installed: run `apt-get install -y bubblewrap` (Debian/Ubuntu).");
  }
  try {
    sandbox = await detectSandbox("bwrap", { bwrapPath: bwrap });
  } catch (error) {
    throw new Error(`The sandbox tests need a working bubblewrap (${bwrap} is installed but does not work here): ${(error as Error).message}`);
  }
  ws = makeTempDir("tracedeck-sandbox-ws-");
  dataDir = makeTempDir("tracedeck-sandbox-data-");
  writeFileSync(join(dataDir, "secret.txt"), SECRET);
  holder = spawn("sleep", ["60"], { env: { PATH: process.env.PATH, TRACEDECK_HOLDER_SECRET: SECRET }, stdio: "ignore" });
  process.env.TRACEDECK_TEST_SECRET = SECRET;
  process.env.OPENAI_API_KEY = SECRET;
}, 30_000);

afterAll(() => {
  holder?.kill("SIGKILL");
  for (const pid of leftovers) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  delete process.env.TRACEDECK_TEST_SECRET;
  delete process.env.OPENAI_API_KEY;
  removeDir(ws);
  removeDir(dataDir);
});

const run = (options: Omit<RunCommandOptions, "workspace" | "sandbox"> & Partial<RunCommandOptions>) =>
  runCommand({ workspace: ws, sandbox, timeoutMs: 20_000, ...options });

/** Runs `source` as a CommonJS script in the workspace and returns what it printed as JSON. */
async function probe(source: string, mode: "sandbox" | "off" = "sandbox"): Promise<Record<string, { ok: boolean; value?: string; code?: string }>> {
  const name = `probe-${tag()}.cjs`;
  writeFileSync(
    join(ws, name),
    `const fs = require("node:fs");
     const attempt = async (f) => { try { return { ok: true, value: String(await f()).slice(0, 500) }; } catch (e) { return { ok: false, code: e.code ?? String(e) }; } };
     (async () => { const out = {}; ${source}; process.stdout.write(JSON.stringify(out)); })();`,
  );
  const result = await run({ program: "node", args: [name], sandbox: mode === "off" ? { kind: "off" } : sandbox });
  expect(result.exitCode, result.output).toBe(0);
  return JSON.parse(result.output);
}

describe("inside the sandbox", () => {
  test("the workspace is writable, and node, ls and sh work", async () => {
    writeFileSync(join(ws, "from-host.txt"), "hello");
    expect(await run({ program: "node", args: ["--version"] })).toMatchObject({ exitCode: 0, output: `${process.version}\n` });
    const listed = await run({ program: "ls", args: ["-la"] });
    expect(listed.exitCode).toBe(0);
    expect(listed.output).toContain("from-host.txt");
    const written = await run({ program: "sh", args: ["-c", "echo written-inside > inside.txt && cat from-host.txt"] });
    expect(written).toMatchObject({ exitCode: 0, output: "hello" });
    expect(readFileSync(join(ws, "inside.txt"), "utf8")).toBe("written-inside\n");
  });

  test("/tmp is writable but private to the command", async () => {
    const name = `/tmp/tracedeck-private-${tag()}`;
    expect(await run({ program: "sh", args: ["-c", `echo x > ${name} && cat ${name}`] })).toMatchObject({ exitCode: 0, output: "x\n" });
    expect(existsSync(name)).toBe(false);
  });

  test("the environment holds no secret of the server's", async () => {
    const result = await run({ program: "env" });
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain(`HOME=${ws}\n`);
    expect(result.output).not.toContain(SECRET);
    expect(result.output).not.toContain("OPENAI_API_KEY");
  });
});

describe("writes outside the workspace fail", () => {
  const repoProbe = join(process.cwd(), "tests", "agent-sandbox", `.sandbox-probe-${tag()}`);
  afterEach(() => rmSync(repoProbe, { force: true }));

  test.each([
    ["/root through /tmp/..", () => `/tmp/../root/tracedeck-probe-${tag()}`],
    ["the repository", () => repoProbe],
    ["/etc", () => `/etc/tracedeck-probe-${tag()}`],
    ["/usr", () => `/usr/tracedeck-probe-${tag()}`],
    ["the data folder", () => join(dataDir, "written")],
    ["/", () => `/tracedeck-probe-${tag()}`],
  ])("%s", async (_, target) => {
    const file = target();
    // The guard refuses the path when it can see it...
    await expect(run({ program: "touch", args: [file] })).rejects.toBeInstanceOf(PathOutsideWorkspaceError);
    // ...and the sandbox stops it when it cannot (inside `sh -c`).
    const result = await run({ program: "sh", args: ["-c", `echo x > ${file}`] });
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toMatch(/Read-only file system|No such file or directory|Directory nonexistent|Permission denied/);
    expect(existsSync(file)).toBe(false);
  });
});

describe("no network", () => {
  let server: Server;
  let port: number;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((socket) => {
      connections++;
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const connect = (host: string) => `out.connect = await attempt(() => new Promise((resolve, reject) => {
      const s = require("node:net").connect(${port}, "${host}", () => { s.end(); resolve("connected"); });
      s.setTimeout(3000, () => { s.destroy(); reject(Object.assign(new Error("timeout"), { code: "TIMEOUT" })); });
      s.on("error", reject);
    }))`;

  test("a connection to a port the host listens on fails (and succeeds unconfined)", async () => {
    const confined = await probe(connect("127.0.0.1"));
    expect(confined.connect).toMatchObject({ ok: false });
    expect(connections).toBe(0);
    const unconfined = await probe(connect("127.0.0.1"), "off");
    expect(unconfined.connect).toEqual({ ok: true, value: "connected" });
    expect(await waitUntil(() => connections === 1, 2_000)).toBe(true);
  });

  test("there is no route out", async () => {
    const confined = await probe(connect("192.0.2.1")); // TEST-NET-1: never a real host
    expect(confined.connect).toMatchObject({ ok: false, code: "ENETUNREACH" });
  });
});

describe("secrets outside the workspace cannot be read", () => {
  // Environments are not printed (the test worker's own would land in the test's output): only
  // whether they could be read and whether the secret is in them.
  const hasSecret = (expression: string) => `(${expression}).includes(${JSON.stringify(SECRET)})`;
  const source = () => `
    out.holderEnviron = await attempt(() => ${hasSecret(`fs.readFileSync("/proc/${holder.pid}/environ", "utf8")`)});
    out.ownEnviron = await attempt(() => fs.readFileSync("/proc/${process.pid}/environ").length > 0);
    out.allEnvirons = await attempt(() => ${hasSecret(`fs.readdirSync("/proc").filter((p) => /^\\d+$/.test(p))
      .map((p) => { try { return fs.readFileSync("/proc/" + p + "/environ", "utf8"); } catch { return ""; } }).join("\\n")`)});
    out.dataFolder = await attempt(() => fs.readFileSync(${JSON.stringify(join(dataDir, "secret.txt"))}, "utf8"));
    out.realHome = await attempt(() => fs.readdirSync(${JSON.stringify(homedir())}).length);
    out.shadow = await attempt(() => fs.readFileSync("/etc/shadow", "utf8").length);`;

  test("the server's environment (/proc/<pid>/environ), the data folder, the real HOME, /etc/shadow", async () => {
    const confined = await probe(source());
    expect(confined.holderEnviron).toMatchObject({ ok: false, code: "ENOENT" });
    expect(confined.ownEnviron).toMatchObject({ ok: false, code: "ENOENT" });
    expect(confined.dataFolder).toMatchObject({ ok: false, code: "ENOENT" });
    expect(confined.realHome).toMatchObject({ ok: false, code: "ENOENT" });
    expect(confined.shadow).toMatchObject({ ok: false, code: "ENOENT" });
    expect(confined.allEnvirons).toEqual({ ok: true, value: "false" });
    expect(JSON.stringify(confined)).not.toContain(SECRET);

    // Unconfined, the same script reads them: the assertions above can fail.
    const unconfined = await probe(source(), "off");
    expect(unconfined.holderEnviron).toEqual({ ok: true, value: "true" });
    expect(unconfined.ownEnviron).toEqual({ ok: true, value: "true" });
    expect(unconfined.allEnvirons).toEqual({ ok: true, value: "true" });
    expect(unconfined.dataFolder).toEqual({ ok: true, value: SECRET });
    expect(unconfined.realHome!.ok).toBe(true);
  });
});

describe("the process tree under the sandbox", () => {
  const TREE = (needle: string) => `
    const { spawn } = require("node:child_process");
    spawn("sleep", ["${needle}"], { stdio: "ignore" }).unref();
    // detached: setsid(), a new session and process group: out of the command's group.
    spawn("sleep", ["${needle}"], { stdio: "ignore", detached: true }).unref();
    console.log("started");
    if (process.argv[2] === "wait") setInterval(() => {}, 1000);`;

  test("a cancellation kills everything the command started, including a process that left the group", async () => {
    const needle = `31.${Date.now() % 100000}`;
    writeFileSync(join(ws, "tree.cjs"), TREE(needle));
    const controller = new AbortController();
    const running = run({ program: "node", args: ["tree.cjs", "wait"], signal: controller.signal, killGraceMs: 500 });
    expect(await waitUntil(() => processesWith(`sleep ${needle}`).length >= 2, 10_000)).toBe(true);
    controller.abort();
    expect(await running).toMatchObject({ cancelled: true, timedOut: false });
    expect(await waitUntil(() => processesWith(`sleep ${needle}`).length === 0, 5_000)).toBe(true);
  }, 30_000);

  test("when the command exits, nothing it started survives (unconfined, a setsid escapee does)", async () => {
    const needle = `32.${Date.now() % 100000}`;
    writeFileSync(join(ws, "tree.cjs"), TREE(needle));
    expect(await run({ program: "node", args: ["tree.cjs"] })).toMatchObject({ exitCode: 0, output: "started\n" });
    expect(await waitUntil(() => processesWith(`sleep ${needle}`).length === 0, 5_000)).toBe(true);

    const unconfinedNeedle = `33.${Date.now() % 100000}`;
    writeFileSync(join(ws, "tree.cjs"), TREE(unconfinedNeedle));
    expect(await run({ program: "node", args: ["tree.cjs"], sandbox: { kind: "off" } })).toMatchObject({ exitCode: 0 });
    await waitUntil(() => processesWith(`sleep ${unconfinedNeedle}`).length === 1, 2_000);
    const survivors = processesWith(`sleep ${unconfinedNeedle}`);
    leftovers.push(...survivors);
    expect(survivors.length).toBe(1); // the group's `sleep` was killed; the setsid one escaped
    for (const pid of survivors) process.kill(pid, "SIGKILL");
    expect(await waitUntil(() => survivors.every((pid) => !isAlive(pid)), 3_000)).toBe(true);
  }, 30_000);
});

describe("without a working sandbox", () => {
  const missing = "/nonexistent/tracedeck/bwrap";
  const marker = () => join(ws, `marker-${tag()}`);

  test('mode "bwrap" with a bwrap that does not exist throws, saying to install bubblewrap', async () => {
    await expect(detectSandbox("bwrap", { bwrapPath: missing })).rejects.toThrow(/bubblewrap/);
    await expect(detectSandbox("bwrap", { bwrapPath: missing })).rejects.toBeInstanceOf(SandboxUnavailableError);
  });

  test('mode "auto" yields "unavailable", and run_command refuses with nothing run', async () => {
    const unavailable = await detectSandbox("auto", { bwrapPath: missing });
    expect(unavailable.kind).toBe("unavailable");
    const file = marker();
    const error = await run({ program: "touch", args: [file], sandbox: unavailable }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SandboxUnavailableError);
    expect(error).toBeInstanceOf(CommandRefusedError);
    expect((error as Error).message).toMatch(/Install bubblewrap/);
    expect(existsSync(file)).toBe(false);
  });

  test("a bwrap sandbox whose binary went missing refuses too", async () => {
    const file = marker();
    await expect(run({ program: "touch", args: [file], sandbox: { kind: "bwrap", bwrapPath: missing, readOnlyPaths: [] } })).rejects.toBeInstanceOf(SandboxUnavailableError);
    expect(existsSync(file)).toBe(false);
  });

  test('only mode "off" runs unconfined', async () => {
    const file = marker();
    const off = await detectSandbox("off", { bwrapPath: missing });
    expect(await run({ program: "touch", args: [file], sandbox: off })).toMatchObject({ exitCode: 0 });
    expect(existsSync(file)).toBe(true);
  });
});
