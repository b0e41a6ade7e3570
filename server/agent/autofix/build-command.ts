/**
 * Which command builds a workspace, for the auto-fix loop (the loop runs it after a turn that
 * wrote files; see fix-loop.ts). Decided on the host, before anything runs, in this order:
 *
 * 1. a configured argument array wins, as given (`["make", "check"]`); an EMPTY array means the
 *    build is switched off (no build, no loop);
 * 2. `pnpm build` when the workspace has a pnpm-lock.yaml, pnpm is found on `pathVariable` (the
 *    child's PATH, where the command will be looked up) and package.json has a `scripts.build`;
 * 3. `npm run build` when package.json has a `scripts.build` (a pnpm-lock.yaml without pnpm on
 *    PATH lands here: npm runs a package.json script just as well);
 * 4. otherwise no build (null): the loop does not run.
 *
 * Deliberate difference from a bare "pnpm-lock.yaml → pnpm build": the lock file alone is not
 * enough, the `build` script must exist too, since `pnpm build` without one fails every time and
 * the loop would then try to "fix" a build that does not exist.
 *
 * A package.json that cannot be read or is not a JSON object, or whose `scripts` is not an object
 * or whose `scripts.build` is not a string, never throws: resolveBuildCommand gives null, and
 * explainBuildCommand says why (reason "bad-package-json" with the detail) so the caller can log it.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { defaultChildPath } from "../child-env.js";
import { findOnPath } from "../workspace-paths.js";

export interface BuildCommand {
  /** A bare name (looked up on the child's PATH) or a path inside the workspace, as run_command takes it. */
  program: string;
  args: string[];
  source: "configured" | "pnpm" | "npm";
  /** The command as a person would type it: `npm run build`. */
  display: string;
}

/** Why there is no build command. */
export type NoBuildReason =
  /** The configured command is an empty array: the build is switched off. */
  | "disabled"
  /** No package.json in the workspace (and nothing configured). */
  | "no-package-json"
  /** package.json cannot be read or parsed, or its `scripts` / `scripts.build` has the wrong type. */
  | "bad-package-json"
  /** package.json has no (or an empty) `scripts.build`. */
  | "no-build-script";

export type BuildResolution = { command: BuildCommand } | { command: null; reason: NoBuildReason; detail: string };

/** A word as a POSIX shell would need it quoted (display only: nothing runs through a shell). */
function shellWord(word: string): string {
  if (word !== "" && /^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `npm run build`; arguments with spaces or shell characters are single-quoted. */
export function displayCommand(program: string, args: readonly string[]): string {
  return [program, ...args].map(shellWord).join(" ");
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

type ScriptCheck = { ok: true } | { ok: false; reason: Exclude<NoBuildReason, "disabled">; detail: string };

/** Whether the workspace's package.json has a non-empty `scripts.build`. */
function checkBuildScript(workspace: string): ScriptCheck {
  const file = path.join(workspace, "package.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: false, reason: "no-package-json", detail: "the workspace has no package.json" };
    return { ok: false, reason: "bad-package-json", detail: `package.json cannot be read (${code ?? (error as Error).message})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: "bad-package-json", detail: `package.json is not valid JSON (${(error as Error).message})` };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return { ok: false, reason: "bad-package-json", detail: "package.json is not a JSON object" };
  const scripts = (json as { scripts?: unknown }).scripts;
  if (scripts === undefined) return { ok: false, reason: "no-build-script", detail: "package.json has no scripts" };
  if (typeof scripts !== "object" || scripts === null || Array.isArray(scripts)) return { ok: false, reason: "bad-package-json", detail: "package.json's scripts is not an object" };
  const build = (scripts as Record<string, unknown>).build;
  if (build === undefined) return { ok: false, reason: "no-build-script", detail: "package.json has no scripts.build" };
  if (typeof build !== "string") return { ok: false, reason: "bad-package-json", detail: "package.json's scripts.build is not a string" };
  if (build.trim() === "") return { ok: false, reason: "no-build-script", detail: "package.json's scripts.build is empty" };
  return { ok: true };
}

const command = (program: string, args: string[], source: BuildCommand["source"]): BuildCommand => ({ program, args, source, display: displayCommand(program, args) });

/**
 * The build command and, when there is none, why. `pathVariable` is where pnpm is looked for:
 * the child's PATH (defaultChildPath()) when not given. Never throws.
 */
export function explainBuildCommand(workspace: string, configured: readonly string[] | null | undefined, pathVariable: string = defaultChildPath()): BuildResolution {
  if (configured !== null && configured !== undefined) {
    if (configured.length === 0) return { command: null, reason: "disabled", detail: "the configured build command is empty: the build is switched off" };
    const [program, ...args] = configured;
    return { command: command(program!, args, "configured") };
  }
  const script = checkBuildScript(workspace);
  if (!script.ok) return { command: null, reason: script.reason, detail: script.detail };
  if (isFile(path.join(workspace, "pnpm-lock.yaml")) && findOnPath("pnpm", pathVariable) !== null) return { command: command("pnpm", ["build"], "pnpm") };
  return { command: command("npm", ["run", "build"], "npm") };
}

/** The build command (see the rules above), or null when there is no build and the loop does not run. Never throws. */
export function resolveBuildCommand(workspace: string, configured: string[] | null | undefined, pathVariable?: string): BuildCommand | null {
  return explainBuildCommand(workspace, configured, pathVariable).command;
}
