/**
 * What every agent tool shares: its definition (a name, a description and a JSON Schema the model
 * sees, a zod schema that checks the same shape, and `run`), the context it runs in, and the typed
 * errors it throws.
 *
 * Errors a tool throws (each with a `code`), nothing written in any of these cases:
 * - ToolInputError: the input does not match the schema (the model's mistake; it can retry);
 * - ToolError: the input is well formed but the files say no (missing, a directory, binary,
 *   oldText not found or ambiguous…), with a message written for the model;
 * - PathOutsideWorkspaceError (command-errors.ts): a path leads outside the workspace;
 * - the signal's reason when ctx.signal is aborted before or while the tool runs.
 */
import path from "node:path";
import type { z } from "zod";
import type { Sandbox } from "../sandbox.js";
import { resolveInside, workspaceRoot } from "../workspace-paths.js";

export interface ToolContext {
  /** The workspace (absolute): every path a tool takes is resolved inside it. */
  workspace: string;
  signal?: AbortSignal;
  /** Where run_command runs commands (from detectSandbox()); without it run_command refuses. */
  sandbox?: Sandbox;
  /** run_command's timeout when the model gives none, and the most it may ask for. */
  commandTimeouts?: { defaultMs: number; maxMs: number };
}

/** The subset of JSON Schema the tools use (what the model sees). */
export interface JsonSchema {
  type?: "object" | "string" | "integer" | "boolean";
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  minLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

/** Every result carries `output`: the text the model is shown. Other fields are for the caller. */
export interface ToolResult {
  output: string;
}

export interface AgentTool<Input = unknown, Result extends ToolResult = ToolResult> {
  readonly name: string;
  readonly description: string;
  /** The JSON Schema given to the model; `zodSchema` checks the same shape (plus what JSON Schema cannot say). */
  readonly inputSchema: JsonSchema;
  readonly zodSchema: z.ZodType<Input>;
  /** Checks the input against zodSchema; throws ToolInputError. */
  parse(input: unknown): Input;
  /** Validates `input`, then runs. */
  run(input: unknown, ctx: ToolContext): Promise<Result>;
}

export class ToolInputError extends Error {
  override name = "ToolInputError";
  readonly code = "INVALID_TOOL_INPUT" as const;
  constructor(
    readonly tool: string,
    /** One line per problem: `field: what is wrong`. */
    readonly issues: string[],
  ) {
    super(`${tool}: invalid input: ${issues.join("; ")}`);
  }
}

export type ToolErrorCode =
  | "NOT_FOUND"
  | "IS_DIRECTORY"
  | "NOT_A_DIRECTORY"
  | "NOT_A_REGULAR_FILE"
  | "BINARY_FILE"
  | "NOT_UTF8"
  | "LINE_OUT_OF_RANGE"
  | "NO_MATCH"
  | "MULTIPLE_MATCHES"
  | "UNKNOWN_TOOL"
  | "WORKSPACE_MOVED";

/** The input was well formed but the tool could not do it; nothing was written. */
export class ToolError extends Error {
  override name = "ToolError";
  constructor(
    readonly code: ToolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function parseToolInput<S extends z.ZodType>(tool: string, schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ToolInputError(
    tool,
    parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(input)"}: ${issue.message}`),
  );
}

export function defineTool<S extends z.ZodType, R extends ToolResult>(definition: {
  name: string;
  description: string;
  inputSchema: JsonSchema;
  zodSchema: S;
  execute(input: z.output<S>, ctx: ToolContext): Promise<R>;
}): AgentTool<z.output<S>, R> {
  const parse = (input: unknown) => parseToolInput(definition.name, definition.zodSchema, input);
  return {
    name: definition.name,
    description: definition.description,
    inputSchema: definition.inputSchema,
    zodSchema: definition.zodSchema as unknown as z.ZodType<z.output<S>>,
    parse,
    async run(input, ctx) {
      const parsed = parse(input);
      ctx.signal?.throwIfAborted();
      return definition.execute(parsed, ctx);
    },
  };
}

/** JSON Schema `pattern` and zod regex for a path: no NUL character (the file system refuses them). */
export const NO_NUL_PATTERN = "^[^\\u0000]*$";
export const NO_NUL_REGEX = /^[^\0]*$/;

export interface ToolPath {
  /** The real path (symlinks resolved), inside the workspace. */
  real: string;
  /** Relative to the workspace's real path ("." for the workspace itself): how results name it. */
  display: string;
}

/** Resolves a path argument inside the workspace (relative paths from the workspace); throws PathOutsideWorkspaceError. */
export function resolveToolPath(ctx: ToolContext, target: string): ToolPath {
  const real = resolveInside(ctx.workspace, target, { role: "path" });
  return { real, display: path.relative(workspaceRoot(ctx.workspace), real) || "." };
}

/** Appends a note on its own line. */
export const appendNote = (text: string, note: string) => (text === "" || text.endsWith("\n") ? `${text}${note}` : `${text}\n${note}`);

export const groupThousands = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
