// The bwrap argument list (no bwrap needed: what runs under it is tests/agent-sandbox).
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { homedir } from "node:os";
import { describe, expect, test } from "vitest";
import { bwrapArguments, detectSandbox } from "../../server/agent/sandbox.js";

const env = { PATH: "/usr/bin:/bin", HOME: "/work/ws", LANG: "C.UTF-8", ODD: "a value with spaces\nand a newline" };
const args = bwrapArguments({ workspace: "/work/ws", cwd: "/work/ws/sub", env, readOnlyPaths: ["/opt/node"] });

/** The [option, ...operands] triples/pairs of a bwrap argument list. */
function options(list: string[]) {
  const arity: Record<string, number> = { "--setenv": 2, "--ro-bind": 2, "--bind": 2, "--symlink": 2, "--tmpfs": 1, "--proc": 1, "--dev": 1, "--chdir": 1, "--cap-drop": 1, "--remount-ro": 1 };
  const out: string[][] = [];
  for (let i = 0; i < list.length; ) {
    const n = arity[list[i]!] ?? 0;
    out.push(list.slice(i, i + 1 + n));
    i += 1 + n;
  }
  return out;
}
const parsed = options(args);
const mounts = parsed.filter(([o]) => o === "--ro-bind" || o === "--bind" || o === "--symlink");

describe("bwrapArguments", () => {
  test("unshares everything, dies with its parent, has its own session and a cleared environment", () => {
    for (const flag of ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]) expect(args).toContain(flag);
    expect(args).not.toContain("--share-net");
    if (process.getuid?.() === 0) expect(parsed).toContainEqual(["--cap-drop", "ALL"]);
    expect(args.indexOf("--clearenv")).toBeLessThan(args.indexOf("--setenv"));
  });

  test("sets each variable of the environment, and only those", () => {
    const set = parsed.filter(([o]) => o === "--setenv").map(([, name, value]) => [name, value]);
    expect(Object.fromEntries(set)).toEqual(env);
  });

  test("binds the workspace read-write at its path, the extras read-only, then /tmp, /proc, /dev of its own", () => {
    expect(mounts.filter(([o]) => o === "--bind")).toEqual([["--bind", "/work/ws", "/work/ws"]]);
    expect(mounts).toContainEqual(["--ro-bind", "/opt/node", "/opt/node"]);
    expect(parsed).toContainEqual(["--tmpfs", "/tmp"]);
    expect(parsed).toContainEqual(["--proc", "/proc"]);
    expect(parsed).toContainEqual(["--dev", "/dev"]);
    expect(args.indexOf("--tmpfs")).toBeLessThan(args.indexOf("--bind")); // a workspace under /tmp stays visible
    expect(parsed).toContainEqual(["--remount-ro", "/"]);
    expect(parsed.at(-1)).toEqual(["--chdir", "/work/ws/sub"]);
  });

  test("system directories are bound as on the host: symlinks (merged /usr) as symlinks", () => {
    expect(mounts).toContainEqual(["--ro-bind", "/usr", "/usr"]);
    for (const dir of ["/bin", "/sbin", "/lib", "/lib64"]) {
      if (!existsSync(dir)) continue;
      const expected = lstatSync(dir).isSymbolicLink() ? ["--symlink", readlinkSync(dir), dir] : ["--ro-bind", dir, dir];
      expect(mounts).toContainEqual(expected);
    }
  });

  test("binds nothing else: not /, not HOME, not shadow, not all of /etc, not the repository", () => {
    const targets = mounts.map((m) => m[2]!);
    expect(targets).not.toContain("/");
    expect(targets).not.toContain("/etc");
    expect(targets).not.toContain(homedir());
    expect(targets).not.toContain(process.cwd());
    for (const secret of ["/etc/shadow", "/etc/gshadow", "/etc/npmrc", "/etc/ssl/private", "/root", "/home", "/var", "/run", "/opt"]) {
      expect(targets).not.toContain(secret);
    }
    const allowed = /^(\/usr|\/bin|\/sbin|\/lib|\/lib64|\/lib32|\/libx32|\/work\/ws|\/opt\/node|\/etc\/(ld\.so\.cache|ld\.so\.conf|ld\.so\.conf\.d|passwd|group|nsswitch\.conf|host\.conf|hosts|protocols|services|localtime|timezone|ssl\/certs|ssl\/openssl\.cnf|ca-certificates|alternatives))$/;
    for (const target of targets) expect(target).toMatch(allowed);
  });
});

describe("detectSandbox", () => {
  test('"off" is unconfined only because it was asked for', async () => {
    expect(await detectSandbox("off")).toEqual({ kind: "off" });
  });

  test('"auto" without a working bwrap is unavailable (never unconfined); "bwrap" throws', async () => {
    const missing = "/nonexistent/tracedeck/bwrap";
    expect(await detectSandbox("auto", { bwrapPath: missing })).toMatchObject({ kind: "unavailable", reason: expect.stringContaining(missing) });
    await expect(detectSandbox("bwrap", { bwrapPath: missing })).rejects.toMatchObject({ code: "SANDBOX_UNAVAILABLE", message: expect.stringContaining("bubblewrap") });
    // A binary that runs but is not bwrap fails the trial run too.
    expect(await detectSandbox("auto", { bwrapPath: "/bin/false" })).toMatchObject({ kind: "unavailable", reason: expect.stringContaining("exit code 1") });
  });
});
