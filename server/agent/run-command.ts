/**
 * run_command: runs one program with its arguments in the workspace, guarded, sandboxed, with a
 * scrubbed environment, bounded in time and output, and cancellable.
 *
 * - Never through a shell: spawn with an argument array (`shell: false`), stdin closed.
 * - The child leads its own process group (`detached: true`). A timeout or a cancellation sends
 *   SIGTERM to the whole group, then SIGKILL after `killGraceMs`. When the program exits, whatever
 *   it left running in its group (background processes) is killed too: nothing a command starts
 *   outlives it. Under bwrap the group leader is bwrap; its PID namespace and --die-with-parent
 *   take the rest down with it, including processes that left the group (setsid). Unconfined, a
 *   process that left the group survives; its output is waited for at most DRAIN_MS after the exit.
 *   Groups still running when the server's process exits are killed by an exit hook.
 * - Output: stdout and stderr are merged in arrival order into one capped text (output-cap.ts), as
 *   a terminal would show them; each stream is decoded on its own, so a character split between
 *   two chunks of one stream is never broken by a chunk of the other.
 * - Refusals (path outside the workspace, program not found, no working sandbox, cancelled before
 *   start, bad options) reject with a CommandRefusedError and run nothing. Once the program has
 *   started, runCommand resolves with a RunCommandResult, however the program ended.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { StringDecoder } from "node:string_decoder";
import { childEnv } from "./child-env.js";
import { CommandCancelledError, CommandNotFoundError, InvalidCommandError, SandboxUnavailableError } from "./command-errors.js";
import { DEFAULT_OUTPUT_CAP_BYTES, OutputCap } from "./output-cap.js";
import { bwrapArguments, checkBwrapBinary, type Sandbox } from "./sandbox.js";
import { guardCommand, workspaceRoot } from "./workspace-paths.js";

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_TIMEOUT_MS = 600_000;
export const DEFAULT_KILL_GRACE_MS = 2_000;
/** After the program exits, how long output still held open by an escaped process is waited for. */
const DRAIN_MS = 1_000;

export interface RunCommandOptions {
  /** A bare name (looked up on the child's PATH) or a path inside the workspace. */
  program: string;
  args?: readonly string[];
  /** The working directory, relative to the workspace (or absolute inside it); the workspace by default. */
  cwd?: string;
  /** The workspace (absolute): the only place paths may lead and the sandbox may write. */
  workspace: string;
  /** From detectSandbox(); { kind: "unavailable" } refuses every command. */
  sandbox: Sandbox;
  /** Default 30 s; a larger value than maxTimeoutMs is lowered to it (the result says which applied). */
  timeoutMs?: number;
  /** Default 10 min. */
  maxTimeoutMs?: number;
  /** stdout and stderr together, in UTF-8 bytes, the cut note included; default 32768. */
  outputCapBytes?: number;
  /** The whole environment of the child; childEnv({ workspace }) by default. PWD is set to the cwd. */
  env?: Readonly<Record<string, string>>;
  /** Aborting it kills the command's process group; the result then says cancelled. */
  signal?: AbortSignal;
  /** Between SIGTERM and SIGKILL on a timeout or a cancellation; default 2 s. */
  killGraceMs?: number;
}

export interface RunCommandResult {
  /** The exit code, or null when the program was ended by a signal. */
  exitCode: number | null;
  /** The signal that ended the program (as seen on the host: under bwrap, bwrap's), or null. */
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  /** stdout and stderr interleaved in arrival order, capped (see output-cap.ts). */
  output: string;
  /** Bytes the program wrote to stdout and stderr, before the cap. */
  outputBytes: number;
  truncated: boolean;
  /** Wall time from the start to the end of the output, measured on the monotonic clock. */
  durationMs: number;
  /** The timeout that applied (timeoutMs, lowered to maxTimeoutMs). */
  timeoutMs: number;
  /** What ran: the resolved program, the arguments, the real working directory. */
  command: { program: string; args: string[]; cwd: string };
}

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function trackGroup(pid: number): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const group of liveGroups) killGroup(group, "SIGKILL");
    });
  }
  liveGroups.add(pid);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidCommandError(`${name} must be a positive integer of milliseconds, not ${value}`);
  return value;
}

export async function runCommand(options: RunCommandOptions): Promise<RunCommandResult> {
  const { sandbox } = options;
  if (sandbox.kind === "unavailable") throw new SandboxUnavailableError(sandbox.reason);
  if (options.signal?.aborted) throw new CommandCancelledError();
  const maxTimeoutMs = positiveInteger("maxTimeoutMs", options.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS);
  const timeoutMs = Math.min(positiveInteger("timeoutMs", options.timeoutMs ?? DEFAULT_TIMEOUT_MS), maxTimeoutMs);
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  if (!Number.isSafeInteger(killGraceMs) || killGraceMs < 0) throw new InvalidCommandError(`killGraceMs must be a whole number of milliseconds, not ${killGraceMs}`);
  let cap: OutputCap;
  try {
    cap = new OutputCap(options.outputCapBytes ?? DEFAULT_OUTPUT_CAP_BYTES);
  } catch (error) {
    throw new InvalidCommandError((error as Error).message);
  }

  const env: Record<string, string> = { ...(options.env ?? childEnv({ workspace: workspaceRoot(options.workspace) })) };
  const guarded = guardCommand({
    workspace: options.workspace,
    program: options.program,
    args: options.args ?? [],
    cwd: options.cwd,
    pathVariable: env.PATH ?? "",
  });
  env.PWD = guarded.cwd;

  let file: string;
  let argv: string[];
  if (sandbox.kind === "bwrap") {
    const unusable = checkBwrapBinary(sandbox.bwrapPath);
    if (unusable !== null) throw new SandboxUnavailableError(unusable);
    file = sandbox.bwrapPath;
    argv = [...bwrapArguments({ workspace: guarded.workspace, cwd: guarded.cwd, env, readOnlyPaths: sandbox.readOnlyPaths }), "--", guarded.program, ...guarded.args];
  } else {
    file = guarded.program;
    argv = guarded.args;
  }
  return execute({ file, argv, env, cwd: guarded.cwd, cap, timeoutMs, killGraceMs, signal: options.signal, sandboxed: sandbox.kind === "bwrap", command: { program: guarded.program, args: guarded.args, cwd: guarded.cwd } });
}

interface Execution {
  file: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  cap: OutputCap;
  timeoutMs: number;
  killGraceMs: number;
  signal: AbortSignal | undefined;
  sandboxed: boolean;
  command: RunCommandResult["command"];
}

function execute(run: Execution): Promise<RunCommandResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let child: ChildProcess;
    try {
      child = spawn(run.file, run.argv, { cwd: run.cwd, env: run.env, stdio: ["ignore", "pipe", "pipe"], detached: true, shell: false });
    } catch (error) {
      reject(new InvalidCommandError(`the command could not be started: ${(error as Error).message}`));
      return;
    }
    const pid = child.pid;
    if (pid !== undefined) trackGroup(pid);

    let rawBytes = 0;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let timedOut = false;
    let cancelled = false;
    let terminating = false;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const decoders = [new StringDecoder("utf8"), new StringDecoder("utf8")] as const;
    [child.stdout!, child.stderr!].forEach((stream, i) => {
      stream.on("data", (chunk: Buffer) => {
        rawBytes += chunk.length;
        run.cap.push(decoders[i]!.write(chunk));
      });
      stream.on("error", () => {}); // a destroyed pipe; the exit decides the result
    });

    const terminate = () => {
      if (terminating || pid === undefined) return;
      terminating = true;
      killGroup(pid, "SIGTERM");
      graceTimer = setTimeout(() => killGroup(pid, "SIGKILL"), run.killGraceMs);
    };
    const timeoutTimer = setTimeout(() => {
      timedOut = true;
      terminate();
    }, run.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      terminate();
    };
    run.signal?.addEventListener("abort", onAbort, { once: true });
    const stopWatching = () => {
      clearTimeout(timeoutTimer);
      run.signal?.removeEventListener("abort", onAbort);
    };

    const cleanUp = () => {
      settled = true;
      stopWatching();
      clearTimeout(graceTimer);
      clearTimeout(drainTimer);
      child.stdout!.destroy();
      child.stderr!.destroy();
      if (pid !== undefined) liveGroups.delete(pid);
    };

    const finish = () => {
      if (settled || exit === null) return;
      cleanUp();
      for (const decoder of decoders) run.cap.push(decoder.end());
      resolve({
        exitCode: exit.code,
        signal: exit.signal,
        timedOut,
        cancelled,
        output: run.cap.text(),
        outputBytes: rawBytes,
        truncated: run.cap.truncated,
        durationMs: performance.now() - started,
        timeoutMs: run.timeoutMs,
        command: run.command,
      });
    };

    child.on("error", (error: NodeJS.ErrnoException) => {
      if (settled || pid !== undefined) return; // an error after the start (a failed kill): the exit decides
      cleanUp();
      reject(run.sandboxed ? new SandboxUnavailableError(`${run.file} could not be started (${error.message})`) : new CommandNotFoundError(run.command.program, error.message));
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      stopWatching();
      clearTimeout(graceTimer);
      // Whatever the program left running in its group goes with it.
      if (pid !== undefined) killGroup(pid, "SIGKILL");
      drainTimer = setTimeout(finish, DRAIN_MS);
    });
    child.on("close", finish);
  });
}
