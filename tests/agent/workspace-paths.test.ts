// The path guard: escapes are refused before anything runs; paths inside are allowed.
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { PathOutsideWorkspaceError, type OutsideReason, type PathRole } from "../../server/agent/command-errors.js";
import { runCommand } from "../../server/agent/run-command.js";
import { guardCommand, pathWords, resolveInside } from "../../server/agent/workspace-paths.js";
import { makeTempDir, removeDir } from "./helpers.js";

/**
 * base/
 *   ws/                 the workspace
 *     sub/file.txt
 *     link-file      -> base/outside/secret.txt     (absolute)
 *     link-dir       -> base/outside                (absolute)
 *     rel-link-dir   -> ../outside                  (relative)
 *     dangling       -> base/outside/not-yet.txt    (does not exist yet)
 *     chain-a -> chain-b -> ../outside
 *     loop-a <-> loop-b
 *     inner-link     -> sub                         (inside)
 *     tool-link      -> /usr/bin/touch
 *     bin/tool.sh    an executable script; bin-link -> bin/tool.sh
 *   ws-alias -> ws      the workspace under another name
 *   outside/secret.txt
 */
let base: string;
let ws: string;
let outside: string;
let alias: string;

beforeAll(() => {
  base = makeTempDir("tracedeck-guard-");
  ws = join(base, "ws");
  outside = join(base, "outside");
  alias = join(base, "ws-alias");
  mkdirSync(join(ws, "sub"), { recursive: true });
  mkdirSync(join(ws, "bin"));
  mkdirSync(outside);
  writeFileSync(join(outside, "secret.txt"), "secret");
  writeFileSync(join(ws, "sub", "file.txt"), "inside");
  symlinkSync(join(outside, "secret.txt"), join(ws, "link-file"));
  symlinkSync(outside, join(ws, "link-dir"));
  symlinkSync("../outside", join(ws, "rel-link-dir"));
  symlinkSync(join(outside, "not-yet.txt"), join(ws, "dangling"));
  symlinkSync("chain-b", join(ws, "chain-a"));
  symlinkSync("../outside", join(ws, "chain-b"));
  symlinkSync("loop-b", join(ws, "loop-a"));
  symlinkSync("loop-a", join(ws, "loop-b"));
  symlinkSync("sub", join(ws, "inner-link"));
  symlinkSync("/usr/bin/touch", join(ws, "tool-link"));
  writeFileSync(join(ws, "bin", "tool.sh"), '#!/bin/sh\ntouch "$@"\n');
  chmodSync(join(ws, "bin", "tool.sh"), 0o755);
  symlinkSync("bin/tool.sh", join(ws, "bin-link"));
  symlinkSync(ws, alias);
});
afterAll(() => removeDir(base));

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PathOutsideWorkspaceError);
    return error as PathOutsideWorkspaceError;
  }
  throw new Error("expected a PathOutsideWorkspaceError, but the path was allowed");
};

describe("resolveInside", () => {
  test.each<[string, OutsideReason]>([
    ["..", "dotdot"],
    ["../outside/secret.txt", "dotdot"],
    ["sub/../../outside", "dotdot"],
    ["inner-link/../../outside", "dotdot"],
    ["/etc/passwd", "absolute"],
    ["/", "absolute"],
    ["link-file", "symlink"],
    ["link-dir", "symlink"],
    ["link-dir/secret.txt", "symlink"],
    ["link-dir/new-file.txt", "symlink"],
    ["link-dir/new-dir/deeper.txt", "symlink"],
    ["rel-link-dir/secret.txt", "symlink"],
    ["dangling", "symlink"],
    ["chain-a/x", "symlink"],
    ["sub/../link-dir/x", "symlink"],
    // `..` after a symlink goes to the parent of the link's target, as in the kernel: base/x.
    ["link-dir/../x", "symlink"],
    ["loop-a", "symlink-loop"],
  ])("%s is refused (%s)", (target, reason) => {
    const error = refusal(() => resolveInside(ws, target));
    expect(error).toMatchObject({ reason, argument: target, role: "path", code: "PATH_OUTSIDE_WORKSPACE", workspace: ws });
    expect(error.message).toContain(JSON.stringify(target));
    expect(error.message).toContain(ws);
  });

  test("an absolute path outside is refused, and the error says where it leads", () => {
    const error = refusal(() => resolveInside(ws, join(outside, "secret.txt")));
    expect(error).toMatchObject({ reason: "absolute", resolved: join(outside, "secret.txt") });
    expect(refusal(() => resolveInside(ws, "link-file"))).toMatchObject({ resolved: join(outside, "secret.txt") });
    expect(refusal(() => resolveInside(ws, "link-dir/../x"))).toMatchObject({ resolved: join(base, "x") });
  });

  test.each<[string, () => string]>([
    ["sub/file.txt", () => join(ws, "sub", "file.txt")],
    ["./sub/../sub/file.txt", () => join(ws, "sub", "file.txt")],
    [".", () => ws],
    ["inner-link/file.txt", () => join(ws, "sub", "file.txt")],
    ["inner-link/../sub", () => join(ws, "sub")],
    ["new-dir/new-file.txt", () => join(ws, "new-dir", "new-file.txt")],
    ["main..feature", () => join(ws, "main..feature")],
    ["bin-link", () => join(ws, "bin", "tool.sh")],
  ])("%s is inside, resolved to its real path", (target, expected) => {
    expect(resolveInside(ws, target)).toBe(expected());
  });

  test("absolute paths inside are allowed under either spelling of the workspace", () => {
    expect(resolveInside(ws, join(ws, "sub", "file.txt"))).toBe(join(ws, "sub", "file.txt"));
    expect(resolveInside(ws, join(alias, "sub", "file.txt"))).toBe(join(ws, "sub", "file.txt"));
    expect(resolveInside(alias, join(ws, "sub", "file.txt"))).toBe(join(ws, "sub", "file.txt"));
    expect(resolveInside(alias, join(alias, "sub"))).toBe(join(ws, "sub"));
    expect(refusal(() => resolveInside(alias, join(alias, "link-dir")))).toMatchObject({ reason: "symlink" });
  });

  test("a path is taken from the cwd, and a cwd outside is refused as the cwd", () => {
    expect(resolveInside(ws, "file.txt", { cwd: "sub" })).toBe(join(ws, "sub", "file.txt"));
    expect(refusal(() => resolveInside(ws, "../../outside", { cwd: "sub" }))).toMatchObject({ reason: "dotdot" });
    expect(refusal(() => resolveInside(ws, "secret.txt", { cwd: "link-dir" }))).toMatchObject({ role: "cwd", reason: "symlink" });
  });

  test("the workspace must exist and cannot be /", () => {
    expect(() => resolveInside(join(base, "nope"), "x")).toThrow(/does not exist/);
    expect(() => resolveInside("/", "etc")).toThrow(/cannot be \//);
    expect(() => resolveInside("relative/ws", "x")).toThrow(/absolute/);
  });
});

describe("which words of an argument are judged as paths", () => {
  test.each<[string, string[]]>([
    ["file.txt", []],
    ["-la", []],
    ["--", []],
    ["--verbose", []],
    ["a/b", ["a/b"]],
    ["/abs", ["/abs"]],
    ["..", [".."]],
    ["--out=/x/y", ["/x/y"]],
    ["--out=result.txt", []],
    ["-o/x", ["/x"]],
    ["-I../include", ["../include"]],
    ["of=/etc/x", ["of=/etc/x", "/etc/x"]],
  ])("%s -> %j", (arg, words) => {
    expect(pathWords(arg)).toEqual(words);
  });

  test("a plain word is judged when it names an entry of the cwd (a symlink, dangling or not)", () => {
    expect(pathWords("link-file", ws)).toEqual(["link-file"]);
    expect(pathWords("dangling", ws)).toEqual(["dangling"]);
    expect(pathWords("--reference=link-file", ws)).toEqual(["link-file"]);
    expect(pathWords("status", ws)).toEqual([]);
    expect(pathWords("file.txt", join(ws, "sub"))).toEqual(["file.txt"]);
  });

  test("a git range and a sed expression stay inside; a bare program on PATH may live anywhere", () => {
    const guarded = guardCommand({ workspace: ws, program: "ls", args: ["HEAD~1..HEAD", "s/a/b/", "-la"], pathVariable: "/usr/bin:/bin" });
    expect(guarded).toEqual({ workspace: ws, cwd: ws, program: "/usr/bin/ls", args: ["HEAD~1..HEAD", "s/a/b/", "-la"] });
  });
});

describe("runCommand refuses an escape with nothing run", () => {
  const marker = () => join(ws, "marker");
  const createdOutside = () => [join(outside, "created"), join(outside, "not-yet.txt"), join(base, "created")];
  const secretMtime = () => statSync(join(outside, "secret.txt")).mtimeMs;
  afterEach(() => rmSync(marker(), { force: true }));

  test.each<[string, { program?: string; args?: string[]; cwd?: string }, PathRole, OutsideReason, string]>([
    ["`..` in an argument", { args: ["../outside/created"] }, "argument", "dotdot", "../outside/created"],
    ["`..` deeper in an argument", { args: ["sub/../../created"] }, "argument", "dotdot", "sub/../../created"],
    ["an absolute path outside", { args: ["OUTSIDE/created"] }, "argument", "absolute", "OUTSIDE/created"],
    ["a --flag=/abs value outside", { args: ["--reference=OUTSIDE/secret.txt"] }, "argument", "absolute", "--reference=OUTSIDE/secret.txt"],
    ["a -x/abs value outside", { args: ["-rOUTSIDE/secret.txt"] }, "argument", "absolute", "-rOUTSIDE/secret.txt"],
    ["a symlinked file pointing outside", { args: ["link-file"] }, "argument", "symlink", "link-file"],
    ["a symlinked file pointing outside, as a --flag= value", { args: ["--reference=link-file"] }, "argument", "symlink", "--reference=link-file"],
    ["a symlinked directory pointing outside", { args: ["-r", "link-dir"] }, "argument", "symlink", "link-dir"],
    ["a new file under a symlinked directory", { args: ["link-dir/created"] }, "argument", "symlink", "link-dir/created"],
    ["a dangling symlink pointing outside", { args: ["dangling"] }, "argument", "symlink", "dangling"],
    ["a cwd with `..`", { args: ["created"], cwd: "../outside" }, "cwd", "dotdot", "../outside"],
    ["a cwd through a symlink", { args: ["created"], cwd: "link-dir" }, "cwd", "symlink", "link-dir"],
    ["an absolute cwd outside", { args: ["created"], cwd: "OUTSIDE" }, "cwd", "absolute", "OUTSIDE"],
    ["a program path outside", { program: "/usr/bin/touch", args: ["created"] }, "program", "absolute", "/usr/bin/touch"],
    ["a program through `..`", { program: "../outside/tool", args: ["created"] }, "program", "dotdot", "../outside/tool"],
    ["a program symlink pointing outside", { program: "./tool-link", args: ["created"] }, "program", "symlink", "./tool-link"],
  ])("%s", async (_, call, role, reason, argument) => {
    const fill = (s: string) => s.replace("OUTSIDE", outside);
    const before = secretMtime();
    const attempt = runCommand({
      workspace: ws,
      sandbox: { kind: "off" },
      program: call.program ?? "touch",
      // The marker comes first: had anything run, it would exist.
      args: ["marker", ...(call.args ?? []).map(fill)],
      cwd: call.cwd === undefined ? undefined : fill(call.cwd),
    });
    const error = await attempt.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PathOutsideWorkspaceError);
    expect(error).toMatchObject({ role, reason, argument: fill(argument) });
    expect(existsSync(marker())).toBe(false);
    expect(existsSync(join(ws, "sub", "marker"))).toBe(false);
    for (const file of createdOutside()) expect(existsSync(file)).toBe(false);
    expect(secretMtime()).toBe(before);
  });

  test("paths inside run: relative, absolute inside, through an inner symlink, a program given as a path inside", async () => {
    const result = await runCommand({
      workspace: ws,
      sandbox: { kind: "off" },
      program: "touch",
      args: ["marker", "sub/new1", join(ws, "sub", "new2"), "inner-link/new3", join(alias, "new4")],
    });
    expect(result.exitCode).toBe(0);
    for (const file of ["marker", "sub/new1", "sub/new2", "sub/new3", "new4"]) expect(existsSync(join(ws, file))).toBe(true);

    const viaScript = await runCommand({ workspace: ws, sandbox: { kind: "off" }, program: "../bin/tool.sh", args: ["new5"], cwd: "sub" });
    expect(viaScript).toMatchObject({ exitCode: 0, command: { program: join(ws, "bin", "tool.sh"), cwd: join(ws, "sub") } });
    expect(existsSync(join(ws, "sub", "new5"))).toBe(true);

    const viaLink = await runCommand({ workspace: alias, sandbox: { kind: "off" }, program: "bin-link", args: ["new6"] }).catch((e: unknown) => e);
    // A bare name is looked up on PATH only, never in the cwd:
    expect(viaLink).toMatchObject({ code: "COMMAND_NOT_FOUND" });
    const viaLinkPath = await runCommand({ workspace: alias, sandbox: { kind: "off" }, program: "./bin-link", args: ["new6"] });
    expect(viaLinkPath.exitCode).toBe(0);
    expect(existsSync(join(ws, "new6"))).toBe(true);
  });
});
