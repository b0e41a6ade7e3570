/**
 * The environment of a command run for the agent: built from an allowlist, never from a copy of
 * the server's environment, so API keys, tokens, DATABASE_URL, REDIS_URL, CURSOR_SECRET and
 * whatever else the server holds never reach it.
 */
import path from "node:path";

/** The system directories a command's programs are looked up in (the server's own PATH is not used). */
export const DEFAULT_CHILD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Copied from the server's environment when set there (locale, terminal, zone, user name, CI hints). */
export const PASSED_THROUGH = ["LANG", "LC_ALL", "TERM", "TZ", "USER", "LOGNAME", "CI", "NODE_ENV"] as const;

/** Always set: no pager, no prompt waiting for a terminal, no colour codes in the output. */
export const FIXED_CHILD_ENV: Readonly<Record<string, string>> = {
  PAGER: "cat",
  GIT_PAGER: "cat",
  GIT_TERMINAL_PROMPT: "0",
  NO_COLOR: "1",
};

/** Defaults for passed-through names the server's environment does not set. */
const DEFAULTS: Readonly<Record<string, string>> = { LANG: "C.UTF-8", TERM: "dumb" };

/**
 * The default PATH: DEFAULT_CHILD_PATH, preceded by the directory of the running `node` when it is
 * not one of those (nvm, /opt/node…), so `node` and `npm` resolve to the server's own Node.
 * (The sandbox binds that installation read-only: see runtimeReadOnlyPaths in sandbox.ts.)
 */
export function defaultChildPath(): string {
  const nodeDir = path.dirname(process.execPath);
  const dirs = DEFAULT_CHILD_PATH.split(":");
  return dirs.includes(nodeDir) ? DEFAULT_CHILD_PATH : `${nodeDir}:${DEFAULT_CHILD_PATH}`;
}

export interface ChildEnvOptions {
  /** The workspace: HOME is set to it (never the server's HOME, whose dotfiles hold credentials). */
  workspace: string;
  /** PATH of the child; defaultChildPath() when not given. */
  path?: string;
  /** Where the passed-through names are read; process.env when not given. */
  from?: NodeJS.ProcessEnv;
  /** Set last, as given: the caller vouches for them (e.g. npm_config_cache). Not for secrets. */
  extra?: Readonly<Record<string, string>>;
}

/**
 * PATH, HOME=workspace, LANG and TERM (with defaults), LC_ALL, TZ, USER, LOGNAME, CI and NODE_ENV
 * when the server has them, the fixed PAGER/GIT_PAGER/GIT_TERMINAL_PROMPT/NO_COLOR, then `extra`.
 * Nothing else. (runCommand adds PWD, the working directory.)
 */
export function childEnv(options: ChildEnvOptions): Record<string, string> {
  const from = options.from ?? process.env;
  const env: Record<string, string> = { PATH: options.path ?? defaultChildPath(), HOME: options.workspace };
  for (const name of PASSED_THROUGH) {
    const value = from[name];
    if (value !== undefined && value !== "") env[name] = value;
    else if (DEFAULTS[name] !== undefined) env[name] = DEFAULTS[name];
  }
  Object.assign(env, FIXED_CHILD_ENV, options.extra ?? {});
  return env;
}
