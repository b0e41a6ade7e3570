/**
 * The scripted provider: plays model steps from a JSON file, for tests, demos and reproducing a
 * chat without a model. The chat's model names a script, `<scriptsDir>/<name>.json`:
 *
 *   { "steps": [ { "text"?: string,
 *                  "toolCalls"?: [{ "name": string, "input": object, "id"?: string }],
 *                  "usage"?: { "input"?, "output"?, "cacheRead"?, "cacheWrite"?, "reasoning"? },
 *                  "expect"?: string } ] }
 *
 * Step N (counted from 0) is `steps[N]`, and it plays when the conversation already holds N assistant
 * messages: the choice depends on the conversation only, so it survives restarts and replays. The
 * file is read at every step, so an edited script applies from the next step. `expect`, when set,
 * must occur in the text of the last user message (its text blocks and tool_result contents).
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { tokensInput, zeroTokens, type TokenCounts } from "../../services/tokens.js";
import { count } from "../../services/validation.js";
import { cancelledError, describeIssues } from "./errors.js";
import { ProviderError, type ConversationMessage, type ModelProvider, type ModelRequest, type ModelResponse } from "./provider.js";

/** What a script name looks like: a file name without its `.json`, never a path. */
export const SCRIPT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_SCRIPT_NAME = 200;
/** A script larger than this is refused before it is read. */
export const MAX_SCRIPT_BYTES = 5 * 1024 * 1024;

export function isScriptName(name: string): boolean {
  return name.length <= MAX_SCRIPT_NAME && SCRIPT_NAME_PATTERN.test(name);
}

const usageSchema = z
  .strictObject({
    input: count.optional(),
    output: count.optional(),
    cacheRead: count.optional(),
    cacheWrite: count.optional(),
    reasoning: count.optional(),
  })
  // Through the services' own check (reasoning is part of output, so it must not exceed it).
  .transform((usage, ctx): TokenCounts => {
    const parsed = tokensInput.safeParse(usage);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    return z.NEVER;
  });

const stepSchema = z.strictObject({
  text: z.string().optional(),
  toolCalls: z
    .array(
      z.strictObject({
        name: z.string().min(1, "must not be empty"),
        input: z.record(z.string(), z.unknown(), "must be an object"),
        id: z.string().min(1, "must not be empty").optional(),
      }),
    )
    .optional(),
  usage: usageSchema.optional(),
  expect: z.string().optional(),
});

export const scriptSchema = z.strictObject({
  steps: z.array(stepSchema).min(1, "must hold at least one step"),
});

export type Script = z.output<typeof scriptSchema>;

export function createScriptedProvider(scriptsDir: string, model: string): ModelProvider {
  return {
    name: "scripted",
    async complete(request: ModelRequest): Promise<ModelResponse> {
      if (request.signal?.aborted) throw cancelledError("scripted");
      const script = await loadScript(scriptsDir, model);
      if (request.signal?.aborted) throw cancelledError("scripted");
      return playStep(script, model, request.messages);
    },
  };
}

function scriptError(name: string, message: string): ProviderError {
  return new ProviderError("scripted", "script", `script "${name}": ${message}`);
}

/** Reads and checks `<scriptsDir>/<name>.json`; every problem is a ProviderError of kind "script". */
export async function loadScript(scriptsDir: string, name: string): Promise<Script> {
  if (!isScriptName(name))
    throw new ProviderError(
      "scripted",
      "script",
      `"${name.slice(0, MAX_SCRIPT_NAME)}" is not a script name: use letters, digits, ".", "_" and "-", starting with a letter or digit`,
    );
  const file = join(scriptsDir, `${name}.json`);
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw scriptError(name, `${file} is not a file`);
    if (info.size > MAX_SCRIPT_BYTES) throw scriptError(name, `${file} is larger than ${MAX_SCRIPT_BYTES} bytes`);
    text = await readFile(file, "utf8");
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    const code = (error as { code?: unknown }).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw scriptError(name, `no script file ${name}.json in ${scriptsDir}`);
    throw scriptError(name, `cannot read ${file}: ${code ?? (error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw scriptError(name, `${name}.json is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = scriptSchema.safeParse(json);
  if (!parsed.success) throw scriptError(name, `${name}.json is not a valid script: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** The step the conversation is at, played: a ProviderError when the script has no such step or its expect fails. */
export function playStep(script: Script, name: string, messages: readonly ConversationMessage[]): ModelResponse {
  const stepIndex = messages.filter((message) => message.role === "assistant").length;
  const step = script.steps[stepIndex];
  if (!step)
    throw scriptError(
      name,
      `ran out of steps: the conversation is at step ${stepIndex} and the script has ${script.steps.length} step${script.steps.length === 1 ? "" : "s"}`,
    );
  if (step.expect !== undefined) {
    const lastUser = lastUserText(messages);
    if (!lastUser.includes(step.expect))
      throw scriptError(
        name,
        `step ${stepIndex} expected the last user message to contain ${JSON.stringify(step.expect)}, but it reads ${JSON.stringify(preview(lastUser))}`,
      );
  }
  const toolCalls = (step.toolCalls ?? []).map((call, index) => ({
    id: call.id ?? `scripted_${stepIndex}_${index}`,
    name: call.name,
    input: call.input,
  }));
  return {
    messageId: `scripted-${stepIndex}`,
    text: step.text ?? "",
    toolCalls,
    usage: step.usage ?? { ...zeroTokens },
    stopReason: toolCalls.length > 0 ? "tool_use" : "end_turn",
  };
}

/** The text of the last user message: its text blocks and tool_result contents, one per line. */
export function lastUserText(messages: readonly ConversationMessage[]): string {
  const last = messages.findLast((message) => message.role === "user");
  if (!last) return "";
  if (typeof last.content === "string") return last.content;
  return last.content
    .flatMap((block) => (block.type === "text" ? [block.text] : block.type === "tool_result" ? [block.content] : []))
    .join("\n");
}

function preview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
