/**
 * The path guard: keeps the paths an agent names inside its workspace.
 *
 * What it is for: catching MISTAKES before anything runs — a model writing `../other-repo/x`,
 * `/etc/hosts`, `--out=/tmp/x`, or going through a symlink that points out of the workspace.
 * What it is not: a confinement. It only sees the program, the working directory and the
 * arguments as words; a program told to escape does so with words the guard cannot read
 * (`bash -c 'cat /etc/passwd'` has no path argument it can judge inside the script, nor do
 * `node -e`, `python -c`, `find . -exec`, `git -c core.pager=…`, a Makefile, a script in the
 * workspace, a symlink the program itself creates after the check). The sandbox (sandbox.ts)
 * contains those; the guard keeps honest calls honest and makes their refusals readable.
 */
import { accessSync, constants, lstatSync, readlinkSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { CommandNotFoundError, InvalidCommandError, PathOutsideWorkspaceError, type OutsideReason, type PathRole } from "./command-errors.js";

/** Symlinks followed before a path counts as a loop (Linux's own limit). */
const MAX_SYMLINKS = 40;

/** The workspace's real path (symlinks resolved). It must be an existing directory other than `/`. */
export function workspaceRoot(workspace: string): string {
  if (!path.isAbsolute(workspace)) throw new InvalidCommandError(`the workspace must be an absolute path, not ${JSON.stringify(workspace)}`);
  let real: string;
  try {
    real = realpathSync.native(workspace);
  } catch (error) {
    throw new InvalidCommandError(`the workspace ${workspace} does not exist (${(error as Error).message})`);
  }
  if (!statSync(real).isDirectory()) throw new InvalidCommandError(`the workspace ${workspace} is not a directory`);
  if (real === "/") throw new InvalidCommandError("the workspace cannot be /");
  return real;
}

const isUnder = (root: string, p: string) => p === root || p.startsWith(root.endsWith("/") ? root : `${root}/`);

/**
 * Resolves an absolute path the way the kernel does: component by component, following each
 * symlink where it stands (so `link/..` is the parent of the link's TARGET, not the workspace),
 * including dangling ones (a not-yet-existing file behind a symlink that points outside is caught).
 * From the first component that does not exist, the rest is resolved lexically.
 */
function resolveReal(absolute: string): string | null {
  let pending = absolute.split("/");
  let current = "/";
  let links = 0;
  while (pending.length > 0) {
    const segment = pending.shift()!;
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      current = path.dirname(current);
      continue;
    }
    const next = current === "/" ? `/${segment}` : `${current}/${segment}`;
    let isLink: boolean;
    try {
      isLink = lstatSync(next).isSymbolicLink();
    } catch {
      return path.resolve(next, ...pending); // does not exist (yet): the rest can only be lexical
    }
    if (!isLink) {
      current = next;
      continue;
    }
    if (++links > MAX_SYMLINKS) return null;
    const target = readlinkSync(next);
    if (target.startsWith("/")) current = "/";
    pending = [...target.split("/"), ...pending];
  }
  return current;
}

export interface ResolveOptions {
  /** The directory a relative path is taken from (itself guarded); the workspace when not given. */
  cwd?: string;
  /** Named in the error. */
  role?: PathRole;
  /** Named in the error instead of `target` (e.g. the whole `--flag=value` argument). */
  argument?: string;
}

/**
 * The real path of `target` (relative to `cwd`, itself relative to the workspace), or a
 * PathOutsideWorkspaceError when it leads outside the workspace: by `..`, as an absolute path
 * elsewhere, or through a symlink (of a file, of a directory on the way, dangling or not).
 * What counts is where the path really leads: a path through a symlink that leads INTO the
 * workspace (e.g. another spelling of the workspace) is inside.
 */
export function resolveInside(workspace: string, target: string, options: ResolveOptions = {}): string {
  const root = workspaceRoot(workspace);
  const lexicalRoot = path.resolve(workspace);
  const base = options.cwd === undefined ? root : resolveInside(root, options.cwd, { role: "cwd" });
  return resolveFrom(root, lexicalRoot, base, target, options.role ?? "path", options.argument ?? target);
}

function resolveFrom(root: string, lexicalRoot: string, base: string, target: string, role: PathRole, argument: string): string {
  const joined = path.isAbsolute(target) ? target : `${base}/${target}`;
  const real = resolveReal(joined);
  if (real !== null && isUnder(root, real)) return real;
  // Refused: say why. As written (`..` taken lexically), is it outside already?
  const lexical = path.resolve(joined);
  const refuse = (reason: OutsideReason, resolved: string) => new PathOutsideWorkspaceError(argument, resolved, reason, role, root);
  if (!isUnder(root, lexical) && !isUnder(lexicalRoot, lexical)) {
    throw refuse(target.split("/").includes("..") ? "dotdot" : "absolute", real ?? lexical);
  }
  if (real === null) throw refuse("symlink-loop", lexical);
  throw refuse("symlink", real);
}

/**
 * Whether an argument is judged as a path: absolute, containing a `/`, or containing `..`.
 * (`main..feature` counts too, and is harmless: it stays inside.) Words like `s/a/b/` or
 * `https://x/y` count and stay inside; a regex like `/api` counts and is refused — the price of
 * catching `/etc/hosts`. Rephrase it (`api`, `\/api`) or run it through a script in the workspace.
 */
export const isPathLike = (word: string) => word.startsWith("/") || word.includes("/") || word.includes("..");

/**
 * The words of one argument that are judged as paths:
 * - a plain argument: itself;
 * - after the first `=` (`--out=/x`, `of=/x`, `DESTDIR=/x`): the value too;
 * - a short option with its value attached (`-o/x`, `-I../include`): the value.
 * A word is judged when it is path-like, or when it names an existing entry of the cwd (a plain
 * `link` that is a symlink pointing outside, dangling or not, is caught; a word like `status` or
 * `-la` that names nothing costs one lstat).
 */
export function pathWords(arg: string, cwd?: string): string[] {
  const words: string[] = [];
  if (!arg.startsWith("-")) words.push(arg);
  const eq = arg.indexOf("=");
  if (eq >= 0) words.push(arg.slice(eq + 1));
  else if (/^-[A-Za-z0-9]./.test(arg)) words.push(arg.slice(2));
  return words.filter((word) => word !== "" && (isPathLike(word) || (cwd !== undefined && exists(path.join(cwd, word)))));
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable regular file named `name` in the directories of `pathVariable`. */
export function findOnPath(name: string, pathVariable: string): string | null {
  for (const dir of pathVariable.split(":")) {
    if (!dir || !path.isAbsolute(dir)) continue; // "" or "." would mean the cwd: never
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

export interface GuardInput {
  workspace: string;
  program: string;
  args: readonly string[];
  /** Relative to the workspace; the workspace when not given. */
  cwd?: string;
  /** The child's (scrubbed) PATH, where a bare program name is looked up. */
  pathVariable: string;
}

export interface GuardedCommand {
  /** The workspace's real path. */
  workspace: string;
  /** The real path of the working directory. */
  cwd: string;
  /** An absolute path to run: found on PATH for a bare name, else the real path inside the workspace. */
  program: string;
  /** The arguments, unchanged (the program resolves them from `cwd`, as the guard did). */
  args: string[];
}

/**
 * Checks a run_command call before anything runs: the cwd, the program (a bare name is looked up
 * on the scrubbed PATH and may live anywhere there; a program given as a path, taken from the cwd,
 * must be inside the workspace) and every path word (pathWords) of every argument must stay inside. Throws
 * PathOutsideWorkspaceError, CommandNotFoundError or InvalidCommandError.
 */
export function guardCommand(input: GuardInput): GuardedCommand {
  const root = workspaceRoot(input.workspace);
  const lexicalRoot = path.resolve(input.workspace);
  const cwd = resolveFrom(root, lexicalRoot, root, input.cwd ?? ".", "cwd", input.cwd ?? ".");
  try {
    if (!statSync(cwd).isDirectory()) throw new Error("not a directory");
  } catch {
    throw new InvalidCommandError(`the working directory ${JSON.stringify(input.cwd)} is not an existing directory`);
  }
  if (input.program === "") throw new InvalidCommandError("the program is empty");
  for (const word of [input.program, ...input.args]) {
    if (word.includes("\0")) throw new InvalidCommandError("the program and the arguments cannot contain NUL characters");
  }

  let program: string;
  if (input.program.includes("/")) {
    program = resolveFrom(root, lexicalRoot, cwd, input.program, "program", input.program);
    if (!isExecutableFile(program)) throw new CommandNotFoundError(input.program, `${program} is not an executable file`);
  } else {
    const found = findOnPath(input.program, input.pathVariable);
    if (found === null) throw new CommandNotFoundError(input.program, `not found on PATH=${input.pathVariable}`);
    program = found;
  }

  for (const arg of input.args) {
    for (const word of pathWords(arg, cwd)) resolveFrom(root, lexicalRoot, cwd, word, "argument", arg);
  }
  return { workspace: root, cwd, program, args: [...input.args] };
}
