/**
 * Claude Code transcripts (`~/.claude/projects/<project>/<session>.jsonl` and the subagents'
 * `<session>/subagents/agent-<id>.jsonl`): JSON Lines text into typed entries, the token usage of
 * each model call, and the turns a session is made of. Pure: no file access (see transcript-file.ts).
 *
 * Anthropic publishes no specification of these files, so parsing is tolerant: every object is
 * loose (unknown fields are kept or ignored), a line of an unknown `type` (summary, system,
 * file-history-snapshot, queue-operation, progress, attachment…) is skipped and counted in
 * `ignoredLines`, and a line that is not JSON, not an object, or a user/assistant line without a
 * usable `message` is counted in `badLines`. Nothing here throws on input.
 *
 * User lines that are not prompts are dropped (counted in `ignoredLines`):
 * - `isMeta: true` lines: the local-command caveat, a custom slash command's expanded body, and
 *   other text Claude Code adds for the model rather than typed by the user;
 * - `isCompactSummary: true` lines: the summary written after /compact;
 * - lines whose text is only local-command or bash-mode output: `<local-command-stdout>`,
 *   `<local-command-stderr>`, `<local-command-caveat>`, `<bash-input>`, `<bash-stdout>`,
 *   `<bash-stderr>` (a `!cmd` typed in the prompt box runs without the model);
 * - user lines with neither text nor image blocks.
 * A slash command line (`<command-name>/x</command-name>…<command-args>a</command-args>`) is kept
 * as a prompt whose text is "/x a" and whose `command` is set: a custom command starts a turn the
 * model answers; a built-in one (/model) gives a turn without assistant entries.
 * "[Request interrupted by user]" and "[Request interrupted by user for tool use]" become
 * `interrupt` entries: they end the turn without being a prompt.
 */
import { z } from "zod";
import { DEFAULT_OUTPUT_CAP_BYTES, capOutputText } from "../../agent/output-cap.js";
import { type TokenCounts, tokensInput, zeroTokens } from "../../services/tokens.js";

// ---------------------------------------------------------------------------------------------
// Types

/** Raw Anthropic usage as the line carries it (input_tokens excludes cache reads and writes). */
export type AnthropicUsage = Record<string, unknown>;

interface EntryBase {
  /** 1-based line number in the text parsed. */
  line: number;
  uuid: string | null;
  timestamp: string | null;
  sessionId: string | null;
  /** isSidechain: true on every line of a subagent's transcript. */
  sidechain: boolean;
  /** The subagent whose transcript holds the line (null on the main thread). */
  agentId: string | null;
}

export interface PromptEntry extends EntryBase {
  type: "prompt";
  text: string;
  cwd: string | null;
  /** Set when the line is a slash command: its name with the slash, and its arguments. */
  command: { name: string; args: string } | null;
}

export interface ToolUse {
  id: string;
  name: string;
  input: unknown;
}

export interface AssistantEntry extends EntryBase {
  type: "assistant";
  messageId: string | null;
  requestId: string | null;
  model: string | null;
  /** The line's text blocks, joined by "\n" ("" when it has none: a thinking or tool_use line). */
  text: string;
  toolUses: ToolUse[];
  usage: AnthropicUsage | null;
  stepKey: string;
  stopReason: string | null;
  /** isApiErrorMessage: an API error Claude Code wrote as an assistant line (model "<synthetic>"). */
  isApiError: boolean;
}

export interface ToolResultEntry extends EntryBase {
  type: "tool_result";
  toolUseId: string;
  /** The result as text: a string, or the text blocks joined by "\n" with "[image]" for images; capped. */
  content: string;
  /** The content was longer than the cap (see ParseOptions.outputCapBytes). */
  truncated: boolean;
  isError: boolean;
  /** toolUseResult.agentId: the subagent an Agent/Task call ran (its transcript is agent-<id>.jsonl). */
  launchedAgentId: string | null;
}

export interface InterruptEntry extends EntryBase {
  type: "interrupt";
  /** True for "[Request interrupted by user for tool use]". */
  duringToolUse: boolean;
}

export type TranscriptEntry = PromptEntry | AssistantEntry | ToolResultEntry | InterruptEntry;

export interface ParsedTranscript {
  source: string | null;
  /** In file order; one user line with several tool_result blocks gives one entry per block. */
  entries: TranscriptEntry[];
  /** Non-empty lines read. */
  lines: number;
  /** Lines that are not JSON objects, or user/assistant lines without a usable message. */
  badLines: number;
  /** Valid lines skipped: other types, meta and command output lines (see the module comment). */
  ignoredLines: number;
  /** The first sessionId seen. */
  sessionId: string | null;
}

export interface ParseOptions {
  /** Names the text in line-keyed step keys (`line:<source>:<n>`); a file path or any unique label. */
  source?: string;
  /** Tool result content kept, in UTF-8 bytes (head and tail around a note; see output-cap.ts). null: no cap. */
  outputCapBytes?: number | null;
}

// ---------------------------------------------------------------------------------------------
// Line schemas: loose objects, each field optional and replaced by undefined when of another type.

const optString = z.string().min(1).optional().catch(undefined);
const optBoolean = z.boolean().optional().catch(undefined);
const content = z.union([z.string(), z.array(z.unknown())]);

const envelope = z.looseObject({
  type: z.string(),
  uuid: optString,
  timestamp: optString,
  sessionId: optString,
  cwd: optString,
  isSidechain: optBoolean,
  agentId: optString,
  isMeta: optBoolean,
  isCompactSummary: optBoolean,
  requestId: optString,
  isApiErrorMessage: optBoolean,
  toolUseResult: z.unknown().optional(),
  message: z.unknown().optional(),
});
type Envelope = z.output<typeof envelope>;

const userMessage = z.looseObject({ content });

const assistantMessage = z.looseObject({
  id: optString,
  model: optString,
  content: content.optional().catch(undefined),
  stop_reason: optString,
  usage: z.record(z.string(), z.unknown()).optional().catch(undefined),
});

const textBlock = z.looseObject({ type: z.literal("text"), text: z.string() });
const toolUseBlock = z.looseObject({ type: z.literal("tool_use"), id: z.string().min(1), name: z.string().min(1), input: z.unknown().optional() });
const toolResultBlock = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: z.unknown().optional(),
  is_error: z.boolean().nullish().catch(undefined),
});
const typedBlock = z.looseObject({ type: z.string() });
const agentResult = z.looseObject({ agentId: z.string().min(1) });

// ---------------------------------------------------------------------------------------------
// Step keys

/** Where a line is, for the key of a line without ids. */
export interface LineLocation {
  source?: string | null;
  lineNumber: number;
}

const nonEmpty = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

/**
 * ccusage's dedupe identity of an assistant line: `${message.id}:${requestId}` when both are
 * present. Otherwise a key unique to the line, so it is counted once per line as ccusage does (a
 * null hash is never a duplicate): `line:<uuid>`, or `line:<source>:<lineNumber>` without a uuid.
 */
export function stepKey(line: unknown, at?: LineLocation): string {
  const record = typeof line === "object" && line !== null ? (line as Record<string, unknown>) : {};
  const message = typeof record.message === "object" && record.message !== null ? (record.message as Record<string, unknown>) : {};
  const messageId = nonEmpty(message.id);
  const requestId = nonEmpty(record.requestId);
  if (messageId && requestId) return `${messageId}:${requestId}`;
  const uuid = nonEmpty(record.uuid);
  if (uuid) return `line:${uuid}`;
  if (!at) throw new RangeError("a line without message.id, requestId and uuid needs its location for a step key");
  return `line:${at.source ?? "-"}:${at.lineNumber}`;
}

// ---------------------------------------------------------------------------------------------
// Parsing

const OUTPUT_TAGS = ["local-command-stdout", "local-command-stderr", "local-command-caveat", "bash-input", "bash-stdout", "bash-stderr"];
const outputOnly = new RegExp(`^\\s*(?:<(${OUTPUT_TAGS.join("|")})>[\\s\\S]*?</\\1>\\s*)+$`);
const commandName = /<command-name>\s*([^<]*?)\s*<\/command-name>/;
const commandArgs = /<command-args>([\s\S]*?)<\/command-args>/;
const INTERRUPTED = "[Request interrupted by user]";
const INTERRUPTED_TOOL = "[Request interrupted by user for tool use]";

/** A tool result's content as text: text blocks joined by "\n", an image as "[image]", another block as "[<type>]". */
function resultText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (!Array.isArray(value)) return JSON.stringify(value) ?? "";
  const parts: string[] = [];
  for (const item of value) {
    if (typeof item === "string") parts.push(item);
    else {
      const text = textBlock.safeParse(item);
      if (text.success) parts.push(text.data.text);
      else {
        const typed = typedBlock.safeParse(item);
        if (typed.success) parts.push(`[${typed.data.type}]`);
      }
    }
  }
  return parts.join("\n");
}

function base(line: number, e: Envelope): EntryBase {
  return {
    line,
    uuid: e.uuid ?? null,
    timestamp: e.timestamp ?? null,
    sessionId: e.sessionId ?? null,
    sidechain: e.isSidechain === true,
    agentId: e.agentId ?? null,
  };
}

function userEntries(line: number, e: Envelope, options: ParseOptions): TranscriptEntry[] | "bad" | "ignored" {
  const message = userMessage.safeParse(e.message);
  if (!message.success) return "bad";
  const blocks: unknown[] = typeof message.data.content === "string" ? [{ type: "text", text: message.data.content }] : message.data.content;

  const results: ToolResultEntry[] = [];
  const texts: string[] = [];
  let images = 0;
  for (const block of blocks) {
    const result = toolResultBlock.safeParse(block);
    if (result.success) {
      const full = resultText(result.data.content);
      const cap = options.outputCapBytes === undefined ? DEFAULT_OUTPUT_CAP_BYTES : options.outputCapBytes;
      const capped = cap === null ? full : capOutputText(full, cap);
      const agent = agentResult.safeParse(e.toolUseResult);
      results.push({
        type: "tool_result",
        ...base(line, e),
        toolUseId: result.data.tool_use_id,
        content: capped,
        truncated: capped !== full,
        isError: result.data.is_error === true,
        launchedAgentId: agent.success ? agent.data.agentId : null,
      });
      continue;
    }
    const text = textBlock.safeParse(block);
    if (text.success) texts.push(text.data.text);
    else if (typedBlock.safeParse(block).data?.type === "image") images++;
  }
  if (results.length > 0) return results;
  if (e.isMeta === true || e.isCompactSummary === true) return "ignored";
  if (texts.length === 0 && images === 0) return "ignored";

  const joined = texts.join("\n");
  const trimmed = joined.trim();
  if (images === 0 && (trimmed === INTERRUPTED || trimmed === INTERRUPTED_TOOL)) {
    return [{ type: "interrupt", ...base(line, e), duringToolUse: trimmed === INTERRUPTED_TOOL }];
  }
  if (images === 0 && outputOnly.test(joined)) return "ignored";

  let command: PromptEntry["command"] = null;
  let promptText = [joined, ...Array.from({ length: images }, () => "[image]")].filter((s) => s !== "").join("\n");
  const name = commandName.exec(joined);
  if (name?.[1]) {
    const args = (commandArgs.exec(joined)?.[1] ?? "").trim();
    const slashed = name[1].startsWith("/") ? name[1] : `/${name[1]}`;
    command = { name: slashed, args };
    promptText = args ? `${slashed} ${args}` : slashed;
  }
  return [{ type: "prompt", ...base(line, e), text: promptText, cwd: e.cwd ?? null, command }];
}

function assistantEntry(line: number, raw: unknown, e: Envelope, options: ParseOptions): AssistantEntry | "bad" {
  const message = assistantMessage.safeParse(e.message);
  if (!message.success) return "bad";
  const m = message.data;
  const blocks: unknown[] = m.content === undefined ? [] : typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
  const texts: string[] = [];
  const toolUses: ToolUse[] = [];
  for (const block of blocks) {
    const text = textBlock.safeParse(block);
    if (text.success) {
      texts.push(text.data.text);
      continue;
    }
    const use = toolUseBlock.safeParse(block);
    if (use.success) toolUses.push({ id: use.data.id, name: use.data.name, input: use.data.input ?? {} });
  }
  return {
    type: "assistant",
    ...base(line, e),
    messageId: m.id ?? null,
    requestId: e.requestId ?? null,
    model: m.model ?? null,
    text: texts.join("\n"),
    toolUses,
    usage: m.usage ?? null,
    stepKey: stepKey(raw, { source: options.source, lineNumber: line }),
    stopReason: m.stop_reason ?? null,
    isApiError: e.isApiErrorMessage === true,
  };
}

/** Parses JSON Lines text (a whole transcript or complete lines of one); never throws on content. */
export function parseTranscript(text: string, options: ParseOptions = {}): ParsedTranscript {
  const parsed: ParsedTranscript = { source: options.source ?? null, entries: [], lines: 0, badLines: 0, ignoredLines: 0, sessionId: null };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const source = lines[i]!;
    if (source.trim() === "") continue;
    parsed.lines++;
    let raw: unknown;
    try {
      raw = JSON.parse(source);
    } catch {
      parsed.badLines++;
      continue;
    }
    const e = envelope.safeParse(raw);
    if (!e.success) {
      parsed.badLines++;
      continue;
    }
    const lineNumber = i + 1;
    const outcome =
      e.data.type === "user"
        ? userEntries(lineNumber, e.data, options)
        : e.data.type === "assistant"
          ? assistantEntry(lineNumber, raw, e.data, options)
          : "ignored";
    if (outcome === "bad") parsed.badLines++;
    else {
      if (parsed.sessionId === null && e.data.sessionId && (e.data.type === "user" || e.data.type === "assistant")) parsed.sessionId = e.data.sessionId;
      if (outcome === "ignored") parsed.ignoredLines++;
      else if (Array.isArray(outcome)) parsed.entries.push(...outcome);
      else parsed.entries.push(outcome);
    }
  }
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// Usage per model call

export interface UsageStep {
  /** stepKey: `${messageId}:${requestId}`, or `line:…` for a line without both. */
  key: string;
  messageId: string | null;
  requestId: string | null;
  model: string | null;
  /** The first line's timestamp. */
  timestamp: string | null;
  /** The largest usage among the step's lines, in Tracedeck's convention (zero when none had a valid usage). */
  tokens: TokenCounts;
  /** Some line had a usage tokens.ts accepts (ccusage skips lines without numeric input and output tokens). */
  hasUsage: boolean;
  /** The tool_use ids the call asked for, over all its lines, in order. */
  toolUseIds: string[];
  sidechain: boolean;
  agentId: string | null;
  /** Assistant lines of the step. */
  lines: number;
  isApiError: boolean;
}

const totalOf = (t: TokenCounts) => t.input + t.output + t.cacheRead + t.cacheWrite;

/** A raw usage in Tracedeck's convention, or null when tokens.ts refuses it. */
export function usageTokens(usage: AnthropicUsage | null): TokenCounts | null {
  if (usage === null) return null;
  const parsed = tokensInput.safeParse({ anthropic: usage });
  return parsed.success ? parsed.data : null;
}

/**
 * One entry per step key, in order of first appearance, with the largest usage among its lines
 * (by input + output + cache tokens; a tie goes to a line carrying `speed`, else the earlier
 * line): ccusage's newer rule, which fixed counting the first, intermediate snapshot of a message
 * split over lines. Several transcripts (a session and its subagents) are deduplicated together,
 * as ccusage does over all files. API-error lines (`<synthetic>`, isApiErrorMessage) keep their
 * usage (all zeros in practice): ccusage does not skip them from totals, only from model breakdowns.
 */
export function usageSteps(transcripts: ParsedTranscript | readonly ParsedTranscript[]): UsageStep[] {
  const list: readonly ParsedTranscript[] = Array.isArray(transcripts) ? transcripts : [transcripts as ParsedTranscript];
  const steps = new Map<string, UsageStep & { hasSpeed: boolean; toolIds: Set<string> }>();
  for (const transcript of list) {
    for (const entry of transcript.entries) {
      if (entry.type !== "assistant") continue;
      const tokens = usageTokens(entry.usage);
      const hasSpeed = entry.usage !== null && entry.usage.speed !== undefined;
      let step = steps.get(entry.stepKey);
      if (!step) {
        step = {
          key: entry.stepKey,
          messageId: entry.messageId,
          requestId: entry.requestId,
          model: entry.model,
          timestamp: entry.timestamp,
          tokens: tokens ?? { ...zeroTokens },
          hasUsage: tokens !== null,
          toolUseIds: [],
          sidechain: entry.sidechain,
          agentId: entry.agentId,
          lines: 0,
          isApiError: entry.isApiError,
          hasSpeed: tokens !== null && hasSpeed,
          toolIds: new Set(),
        };
        steps.set(entry.stepKey, step);
      } else if (tokens !== null) {
        const larger = !step.hasUsage || totalOf(tokens) > totalOf(step.tokens) || (totalOf(tokens) === totalOf(step.tokens) && hasSpeed && !step.hasSpeed);
        if (larger) {
          step.tokens = tokens;
          step.hasUsage = true;
          step.hasSpeed = hasSpeed;
        }
      }
      step.lines++;
      step.model ??= entry.model;
      step.timestamp ??= entry.timestamp;
      step.isApiError ||= entry.isApiError;
      for (const use of entry.toolUses) {
        if (!step.toolIds.has(use.id)) {
          step.toolIds.add(use.id);
          step.toolUseIds.push(use.id);
        }
      }
    }
  }
  return [...steps.values()].map(({ hasSpeed: _speed, toolIds: _ids, ...step }) => step);
}

// ---------------------------------------------------------------------------------------------
// Turns

export interface TurnToolCall {
  toolUseId: string;
  name: string;
  input: unknown;
  /** The assistant line's time. */
  startedAt: string | null;
  /** The result's time; null while it has none. */
  finishedAt: string | null;
  /** The result's content (capped); null while it has none. */
  output: string | null;
  isError: boolean;
  stepKey: string;
  /** The subagent that made the call (null on the main thread). */
  agentId: string | null;
  /** The subagent the call launched (Agent/Task tool), from the result's toolUseResult.agentId. */
  launchedAgentId: string | null;
}

export interface TurnPrompt {
  text: string;
  timestamp: string | null;
  uuid: string | null;
  command: PromptEntry["command"];
}

/** A result whose call is not in the entries given (it was in an earlier chunk). */
export interface UnmatchedResult {
  toolUseId: string;
  output: string;
  isError: boolean;
  finishedAt: string | null;
  launchedAgentId: string | null;
}

export interface Turn {
  index: number;
  /** null for turn 0: entries before the first prompt (a chunk that starts mid-turn). */
  prompt: TurnPrompt | null;
  toolCalls: TurnToolCall[];
  /** The assistant lines' non-empty texts, in order. */
  texts: string[];
  /** The step keys of its assistant lines, each once, in order. */
  stepKeys: string[];
  unmatchedResults: UnmatchedResult[];
  /** The user interrupted it ("[Request interrupted by user…]"). */
  interrupted: boolean;
  startedAt: string | null;
  /** The last entry's timestamp. */
  lastAt: string | null;
  /**
   * Nothing more will be added: its last assistant entry asks for no tool and every tool call has
   * a result; or the user interrupted it; or another prompt follows it. A turn that may still grow
   * (waiting for a result, for the model, or for a first reply) is not closed.
   */
  closed: boolean;
}

/**
 * Groups entries into turns, one per prompt. Entries before the first prompt form turn 0 (prompt
 * null) only when there are some. A result is matched to its call by tool_use id across turns
 * (a prompt queued while tools run may come before their results).
 */
export function turnsOf(transcript: ParsedTranscript | readonly TranscriptEntry[]): Turn[] {
  const entries: readonly TranscriptEntry[] = Array.isArray(transcript) ? transcript : (transcript as ParsedTranscript).entries;
  const turns: Turn[] = [];
  const lastAssistant = new Map<Turn, AssistantEntry>();
  const calls = new Map<string, TurnToolCall>();
  let current: Turn | undefined;
  const open = (prompt: TurnPrompt | null, at: string | null): Turn => {
    const turn: Turn = {
      index: turns.length,
      prompt,
      toolCalls: [],
      texts: [],
      stepKeys: [],
      unmatchedResults: [],
      interrupted: false,
      startedAt: at,
      lastAt: at,
      closed: false,
    };
    turns.push(turn);
    return turn;
  };

  for (const entry of entries) {
    if (entry.type === "prompt") {
      current = open({ text: entry.text, timestamp: entry.timestamp, uuid: entry.uuid, command: entry.command }, entry.timestamp);
      continue;
    }
    current ??= open(null, entry.timestamp);
    if (entry.timestamp) current.lastAt = entry.timestamp;
    if (entry.type === "assistant") {
      lastAssistant.set(current, entry);
      if (entry.text.trim() !== "") current.texts.push(entry.text);
      if (!current.stepKeys.includes(entry.stepKey)) current.stepKeys.push(entry.stepKey);
      for (const use of entry.toolUses) {
        if (calls.has(use.id)) continue;
        const call: TurnToolCall = {
          toolUseId: use.id,
          name: use.name,
          input: use.input,
          startedAt: entry.timestamp,
          finishedAt: null,
          output: null,
          isError: false,
          stepKey: entry.stepKey,
          agentId: entry.agentId,
          launchedAgentId: null,
        };
        calls.set(use.id, call);
        current.toolCalls.push(call);
      }
    } else if (entry.type === "tool_result") {
      const call = calls.get(entry.toolUseId);
      if (call && call.output === null) {
        call.finishedAt = entry.timestamp;
        call.output = entry.content;
        call.isError = entry.isError;
        call.launchedAgentId = entry.launchedAgentId;
      } else if (!call) {
        current.unmatchedResults.push({
          toolUseId: entry.toolUseId,
          output: entry.content,
          isError: entry.isError,
          finishedAt: entry.timestamp,
          launchedAgentId: entry.launchedAgentId,
        });
      }
    } else {
      current.interrupted = true;
    }
  }

  turns.forEach((turn, i) => {
    const last = lastAssistant.get(turn);
    const answered = last !== undefined && last.toolUses.length === 0 && turn.toolCalls.every((c) => c.output !== null);
    turn.closed = answered || turn.interrupted || i < turns.length - 1;
  });
  return turns;
}
