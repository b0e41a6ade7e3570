/**
 * Why run_command refused a call. Every one of these is thrown BEFORE anything was started: when
 * runCommand rejects with a CommandRefusedError, no process ran. (Once a process has started,
 * runCommand resolves with a RunCommandResult instead, whatever the process did.)
 */
export type CommandRefusalCode =
  | "PATH_OUTSIDE_WORKSPACE"
  | "COMMAND_NOT_FOUND"
  | "SANDBOX_UNAVAILABLE"
  | "CANCELLED"
  | "INVALID_COMMAND";

export abstract class CommandRefusedError extends Error {
  abstract readonly code: CommandRefusalCode;
}

/** Why a path was judged outside the workspace. */
export type OutsideReason =
  /** `..` segments lead above the workspace. */
  | "dotdot"
  /** An absolute path that is not under the workspace. */
  | "absolute"
  /** The path is under the workspace as written, but a symlink on the way points outside. */
  | "symlink"
  /** Symlinks loop (or nest deeper than 40): where the path leads cannot be told. */
  | "symlink-loop";

/** Which part of the call the path was: the working directory, the program, an argument. */
export type PathRole = "path" | "cwd" | "program" | "argument";

const explanations: Record<OutsideReason, string> = {
  dotdot: "'..' leads outside the workspace",
  absolute: "an absolute path outside the workspace",
  symlink: "a symlink on the way points outside the workspace",
  "symlink-loop": "symlinks loop, so where it leads cannot be checked",
};

export class PathOutsideWorkspaceError extends CommandRefusedError {
  override name = "PathOutsideWorkspaceError";
  readonly code = "PATH_OUTSIDE_WORKSPACE" as const;
  constructor(
    /** The argument as it was given (for `--flag=value`, the whole argument). */
    readonly argument: string,
    /** Where it leads, symlinks resolved as far as they exist. */
    readonly resolved: string,
    readonly reason: OutsideReason,
    readonly role: PathRole,
    readonly workspace: string,
  ) {
    super(`${role} ${JSON.stringify(argument)} is refused: ${explanations[reason]} (it leads to ${resolved}; the workspace is ${workspace})`);
  }
}

export class CommandNotFoundError extends CommandRefusedError {
  override name = "CommandNotFoundError";
  readonly code = "COMMAND_NOT_FOUND" as const;
  constructor(
    readonly program: string,
    readonly detail: string,
  ) {
    super(`command not found: ${JSON.stringify(program)} (${detail})`);
  }
}

export class SandboxUnavailableError extends CommandRefusedError {
  override name = "SandboxUnavailableError";
  readonly code = "SANDBOX_UNAVAILABLE" as const;
  constructor(readonly reason: string) {
    super(
      `run_command refused: no working sandbox (${reason}). Install bubblewrap (apt-get install -y bubblewrap) ` +
        `or choose the sandbox mode "off" explicitly to run commands unconfined.`,
    );
  }
}

export class CommandCancelledError extends CommandRefusedError {
  override name = "CommandCancelledError";
  readonly code = "CANCELLED" as const;
  constructor() {
    super("run_command was cancelled before the command started");
  }
}

export class InvalidCommandError extends CommandRefusedError {
  override name = "InvalidCommandError";
  readonly code = "INVALID_COMMAND" as const;
}
