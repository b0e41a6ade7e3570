/**
 * The sandbox commands run in: bubblewrap (bwrap), with no network, its own PID namespace, no
 * capabilities, a cleared environment, and a filesystem of only what programs need — /usr and its
 * merged-/usr links, a few files of /etc, a private /tmp, /proc and /dev of its own, and the
 * workspace, read-write at its own path; everything else is read-only. Nothing else is bound: not
 * the server's HOME, not the data folder, not the repository, and never `/` (binding `/` would let
 * a command read /etc/shadow and, through the host's /proc, other processes' environments).
 */
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, lstatSync, mkdtempSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DEFAULT_CHILD_PATH } from "./child-env.js";
import { SandboxUnavailableError } from "./command-errors.js";
import { findOnPath } from "./workspace-paths.js";

export type SandboxMode = "auto" | "bwrap" | "off";

export type Sandbox =
  /** Commands run under bwrap. */
  | { kind: "bwrap"; bwrapPath: string; readOnlyPaths: readonly string[] }
  /** Commands run unconfined: only when the mode "off" was chosen explicitly. */
  | { kind: "off" }
  /** "auto" found no working bwrap: runCommand refuses every command. */
  | { kind: "unavailable"; reason: string };

/** Top-level directories bound read-only, or recreated as symlinks where they are symlinks (merged /usr). */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"];

/**
 * What of /etc is bound: the dynamic linker's cache and configuration, users and groups (not
 * shadow, gshadow), name service and hosts (no resolv.conf: there is no network), protocols and
 * services, the zone, CA certificates (/etc/ssl/certs and openssl.cnf, not /etc/ssl/private), and
 * the Debian alternatives links. Not npmrc, gitconfig or anything else that may hold credentials.
 */
const ETC_ENTRIES = [
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/passwd",
  "/etc/group",
  "/etc/nsswitch.conf",
  "/etc/host.conf",
  "/etc/hosts",
  "/etc/protocols",
  "/etc/services",
  "/etc/localtime",
  "/etc/timezone",
  "/etc/ssl/certs",
  "/etc/ssl/openssl.cnf",
  "/etc/ca-certificates",
  "/etc/alternatives",
];

/** `--ro-bind p p`, or `--symlink target p` when p is a symlink; nothing when p does not exist. */
function bindAsOnHost(p: string): string[] {
  let stat;
  try {
    stat = lstatSync(p);
  } catch {
    return [];
  }
  return stat.isSymbolicLink() ? ["--symlink", readlinkSync(p), p] : ["--ro-bind", p, p];
}

const SYSTEM_PREFIXES = ["/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/"];

/**
 * The running Node's installation when it lives outside the system directories (nvm, /opt/node):
 * bound read-only so the `node` on the child's default PATH exists in the sandbox. Empty for a
 * system Node (/usr/bin/node).
 */
export function runtimeReadOnlyPaths(): string[] {
  const real = realpathSync(process.execPath);
  if (SYSTEM_PREFIXES.some((prefix) => real.startsWith(prefix))) return [];
  return [path.dirname(path.dirname(real))];
}

export interface BwrapArgumentsInput {
  /** The workspace's real path: bound read-write at the same path. */
  workspace: string;
  /** The working directory (inside the workspace). */
  cwd: string;
  /** The whole environment of the command (bwrap clears its own first). */
  env: Readonly<Record<string, string>>;
  /** Further directories bound read-only at their own path (e.g. runtimeReadOnlyPaths()). */
  readOnlyPaths?: readonly string[];
}

/** bwrap's arguments up to (not including) the `--` that precedes the program and its arguments. */
export function bwrapArguments(input: BwrapArgumentsInput): string[] {
  const args = ["--unshare-all", "--die-with-parent", "--new-session"];
  // bwrap started by root keeps every capability inside unless told (a non-root caller's sandbox
  // has none, and a setuid bwrap refuses --cap-drop from non-root).
  if (process.getuid?.() === 0) args.push("--cap-drop", "ALL");
  args.push("--clearenv");
  for (const [name, value] of Object.entries(input.env)) args.push("--setenv", name, value);
  for (const dir of SYSTEM_DIRS) args.push(...bindAsOnHost(dir));
  for (const entry of ETC_ENTRIES) args.push(...bindAsOnHost(entry));
  for (const extra of input.readOnlyPaths ?? []) args.push("--ro-bind", extra, extra);
  // /tmp before the workspace: a workspace under /tmp is bound onto the fresh tmpfs.
  args.push("--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev");
  args.push("--bind", input.workspace, input.workspace);
  // The root bwrap builds (/, /etc, the workspace's parents) is a tmpfs: made read-only, a write
  // anywhere but the workspace and /tmp fails (EROFS) instead of vanishing with the sandbox.
  args.push("--remount-ro", "/");
  args.push("--chdir", input.cwd);
  return args;
}

/** The bwrap the server would use by default: `bwrap` on the server's PATH or the system PATH. */
export function defaultBwrapPath(): string | null {
  return findOnPath("bwrap", `${process.env.PATH ?? ""}:${DEFAULT_CHILD_PATH}`);
}

export interface DetectSandboxOptions {
  /** The bwrap binary; defaultBwrapPath() when not given. */
  bwrapPath?: string;
  /** Bound read-only besides the system; runtimeReadOnlyPaths() when not given. */
  readOnlyPaths?: readonly string[];
  /** How long the trial run may take (default 10 s). */
  trialTimeoutMs?: number;
}

/**
 * Decides how commands will run:
 * - "off": unconfined ({ kind: "off" }), because the caller said so;
 * - "bwrap": a trial run of `true` under the real arguments (a throwaway workspace) must succeed,
 *   else SandboxUnavailableError (with bwrap's own message);
 * - "auto": the same trial; when it fails, { kind: "unavailable" }, on which runCommand refuses
 *   every command (auto never falls back to unconfined).
 */
export async function detectSandbox(mode: SandboxMode, options: DetectSandboxOptions = {}): Promise<Sandbox> {
  if (mode === "off") return { kind: "off" };
  const bwrapPath = options.bwrapPath ?? defaultBwrapPath();
  const readOnlyPaths = options.readOnlyPaths ?? runtimeReadOnlyPaths();
  const failure = bwrapPath === null ? "bwrap was not found on PATH" : await trialRun(bwrapPath, readOnlyPaths, options.trialTimeoutMs ?? 10_000);
  if (failure === null) return { kind: "bwrap", bwrapPath: bwrapPath!, readOnlyPaths };
  if (mode === "bwrap") throw new SandboxUnavailableError(`sandbox mode "bwrap": ${failure}`);
  return { kind: "unavailable", reason: failure };
}

/** Whether bwrapPath is an executable file; the reason when it is not. */
export function checkBwrapBinary(bwrapPath: string): string | null {
  try {
    accessSync(bwrapPath, constants.X_OK);
    return null;
  } catch (error) {
    return `${bwrapPath} cannot be run (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
}

/** Runs `true` under bwrap; null when it succeeded, else what went wrong. */
async function trialRun(bwrapPath: string, readOnlyPaths: readonly string[], timeoutMs: number): Promise<string | null> {
  const unusable = checkBwrapBinary(bwrapPath);
  if (unusable !== null) return unusable;
  const truePath = findOnPath("true", DEFAULT_CHILD_PATH);
  if (truePath === null) return "no `true` program in /usr/bin or /bin to try bwrap with";
  const workspace = realpathSync(mkdtempSync(path.join(tmpdir(), "tracedeck-bwrap-trial-")));
  try {
    const env = { PATH: DEFAULT_CHILD_PATH, HOME: workspace };
    const args = [...bwrapArguments({ workspace, cwd: workspace, env, readOnlyPaths }), "--", truePath];
    return await new Promise<string | null>((resolve) => {
      const child = spawn(bwrapPath, args, { stdio: ["ignore", "ignore", "pipe"], env, detached: true, shell: false });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        if (stderr.length < 4000) stderr += chunk;
      });
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // already gone
        }
        resolve(`the trial run of bwrap did not finish within ${timeoutMs} ms`);
      }, timeoutMs);
      child.on("error", (error) => {
        clearTimeout(timer);
        resolve(`${bwrapPath} could not be started (${error.message})`);
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(null);
        else resolve(`the trial run \`bwrap … ${truePath}\` failed (${signal ?? `exit code ${code}`}): ${stderr.trim() || "no message"}`);
      });
    });
  } finally {
    if (existsSync(workspace)) rmSync(workspace, { recursive: true, force: true });
  }
}
