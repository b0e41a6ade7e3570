/**
 * Importing Claude Code transcripts after the fact (`npm run import -- claude-code <paths>`): each
 * session becomes the same chat the live hooks would have made (one per session_id, through
 * ingestSessions.open), its finished tool calls traces, each model step's usage a model step, and
 * each closed turn a snapshot.
 *
 * - Files are grouped by session: the sessionId of their lines (a subagent's transcript, under
 *   `<session>/subagents/`, carries its parent's). Without one, the path names the session.
 * - Turn k is the session's k-th prompt on the main thread. A subagent's calls belong to the turn
 *   of the Agent/Task call that launched it (found by the result's agentId, the `.meta.json` next
 *   to its transcript, or the Task prompt), and carry its agentId and the launching call's
 *   subagent_type as agentType.
 * - Idempotent: calls whose tool_use id the chat already holds (imported earlier, or recorded live
 *   by the hooks) are skipped; a step is written only when it raises a stored count or links a
 *   call recorded without its step; a snapshot only for a turn past the chat's last saved one.
 *   Importing the same files again writes nothing; a file that grew adds only what is new. Calls
 *   without a result and turns still open are left for a later import.
 */
import { createHash } from "node:crypto";
import { readFile, open as openFile } from "node:fs/promises";
import path from "node:path";
import { defaultLimits, type Limits } from "../../config.js";
import type { PrismaClient } from "../../db/generated/prisma/client.js";
import { ConflictError, ValidationError } from "../../errors.js";
import type { Services } from "../../services/index.js";
import type { RecordTraceInput } from "../../services/traces.js";
import { type TokenCounts, zeroTokens } from "../../services/tokens.js";
import { SOURCE } from "./hooks.js";
import { type ParsedTranscript, type TranscriptEntry, type Turn, type TurnToolCall, parseTranscript, turnsOf, usageSteps } from "./transcript.js";

// ---------------------------------------------------------------------------------------------
// Types

export interface ImportTarget {
  services: Services;
  /** Reads what the services do not expose: the chat's tool call ids, step counts, next turn. */
  prisma: PrismaClient;
  /** The services' limits (defaults: the configuration's defaults): batch size, tool input size, output cap. */
  limits?: Partial<Limits>;
}

export interface ImportSkipped {
  /** Tool calls the chat already held (an earlier import, or the live hooks). */
  calls: number;
  /** Tool calls without a result yet (left for a later import). */
  unanswered: number;
  /** Closed turns already saved (an earlier import, or the live hooks' Stop). */
  turns: number;
  /**
   * Turns left for later: still open (waiting for a result or the model), or open in the live
   * hooks (their Stop saves them).
   */
  openTurns: number;
  /** Lines that are not JSON objects, or user/assistant lines without a usable message. */
  badLines: number;
  /** Files that could not be read. */
  files: number;
}

export interface ImportSummary {
  /** Files read. */
  files: number;
  sessions: number;
  chats: { created: number; updated: number };
  /** Traces added. */
  traces: number;
  /** Snapshots saved (one per closed turn). */
  turns: number;
  /** Tokens added to the chats' totals. */
  tokens: TokenCounts;
  skipped: ImportSkipped;
  errors: { file: string; message: string }[];
}

export interface ImportProgress {
  /** 1-based, in the order files are done (a session's files together). */
  index: number;
  total: number;
  file: string;
  sessionId: string | null;
  chatId: string | null;
  /** Whether the session's chat was created by this import. */
  created: boolean;
  /** Traces added from this file's calls. */
  traces: number;
  /** Snapshots saved for turns whose prompt is in this file. */
  turns: number;
  /** Set when the file could not be read. */
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// Constants

/** The most messages a turn's snapshot keeps (the conversation's latest prompts and answers). */
const MAX_STATE_MESSAGES = 40;
/** Each message's content is cut to this many characters. */
const MAX_MESSAGE_CHARS = 4000;
/** The snapshot's `prompt` is cut to this many characters (as the hooks keep it). */
const MAX_PROMPT_CHARS = 100_000;
/** Steps per attachStepUsage call (one transaction each). */
const STEP_CHUNK = 500;
/** Ids per `IN (…)` query. */
const QUERY_CHUNK = 1000;
/** Bytes read to find a file's sessionId before reading it whole. */
const PEEK_BYTES = 256 * 1024;
const AGENT_TOOLS = new Set(["Agent", "Task"]);
const INTERRUPTED = "[Request interrupted by user";

// ---------------------------------------------------------------------------------------------
// Helpers

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

const errorMessage = (error: unknown) => {
  const e = error as NodeJS.ErrnoException;
  if (e?.code === "ENOENT") return "no such file";
  if (e?.code === "EACCES") return "permission denied";
  if (e?.code === "EISDIR") return "is a directory";
  return e?.message ?? String(error);
};

/** A stored key fits the services' 512 characters: a longer line key (a long path) is hashed. */
const storedKey = (key: string) => (key.length <= 512 ? key : `line:sha256:${createHash("sha256").update(key).digest("hex")}`);

const toDate = (iso: string | null): Date | undefined => {
  if (!iso) return undefined;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
};

const cut = (text: string, max = MAX_MESSAGE_CHARS) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A subagent transcript by its place: `…/subagents/…` or an older CLI's project-level `agent-<id>.jsonl`. */
function subagentOfPath(file: string): { isSubagent: boolean; agentId: string | null } {
  const parts = path.resolve(file).split(path.sep);
  const name = parts.at(-1) ?? "";
  const agent = /^agent-(.+)\.jsonl$/.exec(name)?.[1] ?? null;
  const inSubagents = parts.slice(0, -1).includes("subagents");
  return { isSubagent: inSubagents || agent !== null, agentId: agent };
}

/** The session a file belongs to when none of its lines says: its parent session's folder, or its name. */
function sessionOfPath(file: string): string {
  const parts = path.resolve(file).split(path.sep);
  const at = parts.lastIndexOf("subagents");
  if (at > 0) return parts[at - 1]!;
  return path.basename(file, ".jsonl");
}

/** The first user/assistant line's sessionId (as parseTranscript takes it), from the file's head. */
async function peekSessionId(file: string): Promise<string | null> {
  const handle = await openFile(file, "r");
  let head: string;
  let size: number;
  try {
    size = (await handle.stat()).size;
    const buffer = Buffer.alloc(Math.min(PEEK_BYTES, size));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
  for (const line of head.split("\n")) {
    if (!line.includes('"sessionId"')) continue;
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      if ((record.type === "user" || record.type === "assistant") && typeof record.sessionId === "string" && record.sessionId !== "") return record.sessionId;
    } catch {
      // a cut line (the head's last) or a bad one
    }
  }
  if (size <= PEEK_BYTES) return null;
  return parseTranscript(await readFile(file, "utf8"), { source: file }).sessionId;
}

/** `agent-<id>.meta.json` next to a subagent's transcript (newer CLIs): its type and launching call. */
async function readAgentMeta(file: string): Promise<{ agentType?: string; toolUseId?: string } | null> {
  try {
    const meta = JSON.parse(await readFile(file.replace(/\.jsonl$/, ".meta.json"), "utf8")) as Record<string, unknown>;
    return {
      agentType: typeof meta.agentType === "string" && meta.agentType !== "" ? meta.agentType : undefined,
      toolUseId: typeof meta.toolUseId === "string" && meta.toolUseId !== "" ? meta.toolUseId : undefined,
    };
  } catch {
    return null;
  }
}

/** A tool input the service accepts: one larger than its limit is kept as a note with a preview. */
function fitInput(input: unknown, maxBytes: number): unknown {
  const json = JSON.stringify(input ?? {}) ?? "{}";
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes <= maxBytes) return input ?? {};
  return { truncated: true, bytes, preview: json.slice(0, Math.max(0, Math.min(2000, Math.floor(maxBytes / 8)))) };
}

const entryKey = (e: TranscriptEntry) => (e.uuid ? `${e.type}:${e.uuid}:${e.type === "tool_result" ? e.toolUseId : ""}` : null);

const firstTimestamp = (p: ParsedTranscript) => p.entries.find((e) => e.timestamp)?.timestamp ?? null;

// ---------------------------------------------------------------------------------------------
// A session's transcripts, merged

interface SessionFile {
  file: string;
  parsed: ParsedTranscript;
  subagent: { isSubagent: boolean; agentId: string | null };
  /** Line numbers of the `system` lines Claude Code writes when a turn ends (turn_duration, stop_hook_summary). */
  turnEnds: number[];
}

const TURN_END_SUBTYPES = new Set(["turn_duration", "stop_hook_summary"]);

/** The turn-end `system` lines of a transcript (the parser skips system lines). */
function turnEndLines(text: string): number[] {
  const found: number[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.includes('"system"')) continue;
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record.type === "system" && typeof record.subtype === "string" && TURN_END_SUBTYPES.has(record.subtype)) found.push(i + 1);
    } catch {
      // a bad line: the parser counts it
    }
  }
  return found;
}

interface Sidechain {
  agentId: string | null;
  entries: TranscriptEntry[];
  files: string[];
}

interface PlannedCall {
  call: TurnToolCall;
  turnNumber: number;
  agentId?: string;
  agentType?: string;
  file: string;
  /** A subagent call waiting for its launching call's result to be placed. */
  deferred: boolean;
}

interface SessionPlan {
  cwd: string | null;
  title: string;
  titledByPrompt: boolean;
  turns: { turn: Turn; number: number; closed: boolean; file: string }[];
  calls: PlannedCall[];
}

async function planSession(files: SessionFile[]): Promise<SessionPlan> {
  const callFile = new Map<string, string>();
  const promptFile = new Map<string, string>();
  const seen = new Set<string>();
  const fresh = (e: TranscriptEntry) => {
    const key = entryKey(e);
    if (key === null) return true;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const fileOf = new Map<TranscriptEntry, SessionFile>();
  const note = (e: TranscriptEntry, file: string) => {
    if (e.type === "assistant") for (const use of e.toolUses) if (!callFile.has(use.id)) callFile.set(use.id, file);
    if (e.type === "prompt" && e.uuid) promptFile.set(e.uuid, file);
  };

  // Main files by their first line's time, so a session continued in another file reads on.
  const ordered = [...files].sort((a, b) => {
    const ta = firstTimestamp(a.parsed) ?? "\uffff";
    const tb = firstTimestamp(b.parsed) ?? "\uffff";
    return ta < tb ? -1 : ta > tb ? 1 : 0;
  });
  const main: TranscriptEntry[] = [];
  const sidechains = new Map<string, Sidechain>();
  for (const sessionFile of ordered) {
    const { file, parsed, subagent } = sessionFile;
    const fileAgent = subagent.isSubagent ? (parsed.entries.find((e) => e.agentId)?.agentId ?? subagent.agentId) : null;
    for (const entry of parsed.entries) {
      if (!fresh(entry)) continue;
      note(entry, file);
      fileOf.set(entry, sessionFile);
      const side = subagent.isSubagent || entry.sidechain || entry.agentId !== null;
      if (!side) {
        main.push(entry);
        continue;
      }
      const agentId = entry.agentId ?? fileAgent;
      const key = agentId ?? "";
      let group = sidechains.get(key);
      if (!group) sidechains.set(key, (group = { agentId, entries: [], files: [] }));
      group.entries.push(entry);
      if (!group.files.includes(file)) group.files.push(file);
    }
  }

  const firstMain = ordered.find((f) => !f.subagent.isSubagent)?.file ?? ordered[0]!.file;
  const turns: SessionPlan["turns"] = [];
  let prompts = 0;
  const mainTurns = turnsOf(main);
  // turnsOf closes the last turn once its last assistant line asks for no tool; while the file is
  // being written that line may be the first block of a longer message (thinking, a text before a
  // tool call). The last turn counts as closed only when its answer is final: a text (or an API
  // error) with a stop reason other than tool_use, or followed by a turn-end system line.
  const lastAssistant = main.findLast((e): e is Extract<TranscriptEntry, { type: "assistant" }> => e.type === "assistant");
  const finalAnswer = (() => {
    if (!lastAssistant || lastAssistant.toolUses.length > 0) return false;
    if (lastAssistant.isApiError) return true;
    if (lastAssistant.text.trim() === "") return false;
    if (lastAssistant.stopReason !== null && lastAssistant.stopReason !== "tool_use") return true;
    return fileOf.get(lastAssistant)?.turnEnds.some((line) => line > lastAssistant.line) ?? false;
  })();
  mainTurns.forEach((turn, i) => {
    if (turn.prompt) prompts++;
    const number = Math.max(prompts, 1);
    const closed = turn.closed && (i < mainTurns.length - 1 || turn.interrupted || finalAnswer);
    turns.push({ turn, number, closed, file: (turn.prompt?.uuid && promptFile.get(turn.prompt.uuid)) || firstMain });
  });

  const calls: PlannedCall[] = [];
  const mainCalls = new Map<string, { call: TurnToolCall; turnNumber: number }>();
  const launched = new Map<string, { call: TurnToolCall; turnNumber: number }>();
  for (const { turn, number } of turns) {
    for (const call of turn.toolCalls) {
      mainCalls.set(call.toolUseId, { call, turnNumber: number });
      if (call.launchedAgentId) launched.set(call.launchedAgentId, { call, turnNumber: number });
      calls.push({ call, turnNumber: number, file: callFile.get(call.toolUseId) ?? firstMain, deferred: false });
    }
  }
  const mainLast = main.findLast((e) => e.timestamp)?.timestamp ?? null;
  const agentCalls = [...mainCalls.values()].filter((c) => AGENT_TOOLS.has(c.call.name));
  const subagentTypeOf = (call: TurnToolCall) => {
    const type = (call.input as { subagent_type?: unknown } | null)?.subagent_type;
    return typeof type === "string" && type !== "" ? type : undefined;
  };
  /** The turn whose prompt came last at or before `at` (1 when none did). */
  const turnAt = (at: string | null) => {
    let found = 1;
    for (const { turn, number } of turns) if (turn.prompt && at && turn.prompt.timestamp && turn.prompt.timestamp <= at) found = number;
    return found;
  };

  for (const group of sidechains.values()) {
    const subTurns = turnsOf(group.entries);
    const firstPrompt = subTurns.find((t) => t.prompt)?.prompt ?? null;
    let meta: Awaited<ReturnType<typeof readAgentMeta>> = null;
    for (const file of group.files) meta ??= await readAgentMeta(file);

    let link = group.agentId ? launched.get(group.agentId) : undefined;
    if (!link && meta?.toolUseId) link = mainCalls.get(meta.toolUseId);
    if (!link && firstPrompt) {
      // Older transcripts: the Task call whose prompt the subagent was given (the latest before it).
      const text = firstPrompt.text.trim();
      const candidates = agentCalls.filter(
        ({ call }) =>
          (call.launchedAgentId === null || call.launchedAgentId === group.agentId) &&
          typeof (call.input as { prompt?: unknown } | null)?.prompt === "string" &&
          ((call.input as { prompt: string }).prompt.trim() === text),
      );
      const before = candidates.filter(({ call }) => !firstPrompt.timestamp || !call.startedAt || call.startedAt <= firstPrompt.timestamp);
      link = before.at(-1) ?? candidates[0];
    }
    // Unplaced while a launching call still runs (it may yet name this agent), or while the main
    // transcript has not caught up with the subagent's (its launching call is still to be written).
    const groupFirst = group.entries.find((e) => e.timestamp)?.timestamp ?? null;
    const deferred = !link && (agentCalls.some(({ call }) => call.output === null) || (mainLast !== null && groupFirst !== null && groupFirst > mainLast));
    const agentType = (link ? subagentTypeOf(link.call) : undefined) ?? meta?.agentType;
    for (const turn of subTurns) {
      for (const call of turn.toolCalls) {
        calls.push({
          call,
          turnNumber: link?.turnNumber ?? turnAt(call.startedAt),
          agentId: call.agentId ?? group.agentId ?? undefined,
          agentType,
          file: callFile.get(call.toolUseId) ?? group.files[0]!,
          deferred,
        });
      }
    }
  }

  const cwd = main.find((e): e is Extract<TranscriptEntry, { type: "prompt" }> => e.type === "prompt" && e.cwd !== null)?.cwd
    ?? files.flatMap((f) => f.parsed.entries).find((e): e is Extract<TranscriptEntry, { type: "prompt" }> => e.type === "prompt" && e.cwd !== null)?.cwd
    ?? null;
  const prompted = turns.map((t) => t.turn.prompt).filter((p) => p !== null && p.text.trim() !== "");
  const titlePrompt = prompted.find((p) => p!.command === null) ?? prompted[0];
  const folder = cwd ? path.basename(cwd) : "";
  return {
    cwd,
    title: titlePrompt?.text ?? (folder || "Claude Code session"),
    titledByPrompt: titlePrompt !== undefined,
    turns,
    calls: calls.sort((a, b) => {
      const ta = a.call.startedAt ?? "";
      const tb = b.call.startedAt ?? "";
      return ta < tb ? -1 : ta > tb ? 1 : 0;
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Import

const sumTokens = async (prisma: PrismaClient, chatId: string): Promise<TokenCounts> => {
  const { _sum: s } = await prisma.modelStep.aggregate({
    where: { chatId },
    _sum: { inputTokens: true, outputTokens: true, cacheReadTokens: true, cacheWriteTokens: true, reasoningTokens: true },
  });
  return { input: s.inputTokens ?? 0, output: s.outputTokens ?? 0, cacheRead: s.cacheReadTokens ?? 0, cacheWrite: s.cacheWriteTokens ?? 0, reasoning: s.reasoningTokens ?? 0 };
};

const KINDS = ["input", "output", "cacheRead", "cacheWrite", "reasoning"] as const;

/**
 * Imports Claude Code transcripts (files, not folders: see listTranscriptFiles). Files that cannot
 * be read are reported in `errors` and the others imported; a database error ends the import.
 */
export async function importTranscripts(
  target: ImportTarget,
  files: readonly string[],
  onProgress?: (progress: ImportProgress) => void,
): Promise<ImportSummary> {
  const { services, prisma } = target;
  const limits = { ...defaultLimits, ...target.limits };
  const batchSize = Math.max(1, Math.min(1000, limits.maxBatchItems));
  const summary: ImportSummary = {
    files: 0,
    sessions: 0,
    chats: { created: 0, updated: 0 },
    traces: 0,
    turns: 0,
    tokens: { ...zeroTokens },
    skipped: { calls: 0, unanswered: 0, turns: 0, openTurns: 0, badLines: 0, files: 0 },
    errors: [],
  };
  const unique = [...new Set(files.map((f) => path.resolve(f)))];
  const total = unique.length;
  let index = 0;
  const failed = (file: string, error: unknown, sessionId: string | null = null) => {
    const message = errorMessage(error);
    summary.errors.push({ file, message });
    summary.skipped.files++;
    onProgress?.({ index: ++index, total, file, sessionId, chatId: null, created: false, traces: 0, turns: 0, error: message });
  };

  // Which session each file belongs to, keeping the order sessions are first met in.
  const sessions = new Map<string, string[]>();
  for (const file of unique) {
    let sessionId: string | null;
    try {
      sessionId = await peekSessionId(file);
    } catch (error) {
      failed(file, error);
      continue;
    }
    const key = sessionId ?? sessionOfPath(file);
    sessions.set(key, [...(sessions.get(key) ?? []), file]);
  }

  for (const [sessionId, sessionPaths] of sessions) {
    const read: SessionFile[] = [];
    for (const file of sessionPaths) {
      try {
        const text = await readFile(file, "utf8");
        const parsed = parseTranscript(text, { source: file, outputCapBytes: limits.traceOutputCapBytes });
        read.push({ file, parsed, subagent: subagentOfPath(file), turnEnds: turnEndLines(text) });
        summary.files++;
        summary.skipped.badLines += parsed.badLines;
      } catch (error) {
        failed(file, error, sessionId);
      }
    }
    if (read.length === 0) continue;
    const done = (chatId: string | null, created: boolean, traces: Map<string, number>, turns: Map<string, number>) => {
      // The session's own transcript first, then its subagents'.
      for (const { file } of [...read].sort((a, b) => Number(a.subagent.isSubagent) - Number(b.subagent.isSubagent))) {
        onProgress?.({ index: ++index, total, file, sessionId, chatId, created, traces: traces.get(file) ?? 0, turns: turns.get(file) ?? 0 });
      }
    };
    if (!read.some((f) => f.parsed.entries.length > 0)) {
      done(null, false, new Map(), new Map()); // nothing of a session in them (summaries, snapshots…)
      continue;
    }
    summary.sessions++;
    const plan = await planSession(read);

    const { session, created } = await services.ingestSessions.open({
      source: SOURCE,
      externalId: sessionId,
      title: plan.title,
      workspace: plan.cwd ?? undefined,
      cwd: plan.cwd ?? undefined,
    });
    const chatId = session.chatId;
    if (created && plan.titledByPrompt) {
      // Named after its first prompt already: a later live prompt must not rename it.
      await prisma.ingestSession.update({ where: { id: session.id }, data: { titledByPrompt: true } });
    }
    const tokensBefore = created ? { ...zeroTokens } : await sumTokens(prisma, chatId);
    const tracesByFile = new Map<string, number>();
    const turnsByFile = new Map<string, number>();
    let traces = 0;
    let turnsSaved = 0;

    // Traces: the finished calls the chat does not hold yet.
    const known = new Set<string>();
    for (const ids of chunks([...new Set(plan.calls.map((c) => c.call.toolUseId))], QUERY_CHUNK)) {
      const rows = await prisma.toolTrace.findMany({ where: { chatId, toolCallId: { in: ids } }, select: { toolCallId: true } });
      for (const row of rows) if (row.toolCallId) known.add(row.toolCallId);
    }
    const toRecord: { input: RecordTraceInput; file: string }[] = [];
    for (const planned of plan.calls) {
      const { call } = planned;
      if (known.has(call.toolUseId)) {
        summary.skipped.calls++;
        continue;
      }
      if (call.output === null || planned.deferred) {
        summary.skipped.unanswered++;
        continue;
      }
      const startedAt = toDate(call.startedAt);
      let finishedAt = toDate(call.finishedAt);
      if (startedAt && finishedAt && finishedAt < startedAt) finishedAt = startedAt;
      const interrupted = call.isError && call.output.trimStart().startsWith(INTERRUPTED);
      toRecord.push({
        file: planned.file,
        input: {
          chatId,
          toolName: call.name,
          toolInput: fitInput(call.input, limits.toolInputMaxBytes),
          toolCallId: call.toolUseId,
          messageId: storedKey(call.stepKey),
          turnNumber: planned.turnNumber,
          startedAt,
          finishedAt,
          ...(call.isError ? { error: call.output || "the tool failed" } : { output: call.output }),
          ...(interrupted ? { status: "cancelled" as const } : {}),
          agentId: planned.agentId,
          agentType: planned.agentType,
        },
      });
    }
    for (const batch of chunks(toRecord, batchSize)) {
      await services.traces.recordBatch(batch.map((b) => b.input));
      for (const { file } of batch) tracesByFile.set(file, (tracesByFile.get(file) ?? 0) + 1);
      traces += batch.length;
    }

    // Steps: each one written only when it raises a stored count or links a call stored without it.
    const steps = usageSteps(read.map((f) => f.parsed))
      .filter((s) => s.hasUsage || s.toolUseIds.length > 0)
      .map((s) => ({ stepKey: storedKey(s.key), tokens: s.tokens, toolCallIds: s.toolUseIds.slice(0, 1000), hasUsage: s.hasUsage }));
    const stored = new Map<string, TokenCounts>();
    for (const keys of chunks(steps.map((s) => s.stepKey), QUERY_CHUNK)) {
      const rows = await prisma.modelStep.findMany({ where: { chatId, stepKey: { in: keys } } });
      for (const r of rows) {
        stored.set(r.stepKey, { input: r.inputTokens, output: r.outputTokens, cacheRead: r.cacheReadTokens, cacheWrite: r.cacheWriteTokens, reasoning: r.reasoningTokens });
      }
    }
    const unlinked = new Set(
      (await prisma.toolTrace.findMany({ where: { chatId, messageId: null, toolCallId: { not: null } }, select: { toolCallId: true } })).map((r) => r.toolCallId!),
    );
    const changing = steps.filter((s) => {
      const row = stored.get(s.stepKey);
      if (s.toolCallIds.some((id) => unlinked.has(id))) return true;
      if (!row) return s.hasUsage;
      return KINDS.some((k) => s.tokens[k] > row[k]);
    });
    for (const batch of chunks(changing, STEP_CHUNK)) {
      await services.traces.attachStepUsage(
        chatId,
        batch.map(({ stepKey, tokens, toolCallIds }) => ({ stepKey, tokens, toolCallIds })),
      );
    }

    // Snapshots: each closed turn past the chat's last saved one. While the live hooks have a turn
    // open (a prompt seen, its Stop not yet), the turns from the chat's next one on are theirs to
    // save: saved here first, the hooks' Stop would save the same turn again one turn further on.
    const chat = await prisma.chat.findUniqueOrThrow({ where: { id: chatId }, select: { nextTurn: true } });
    const liveTurnOpen = (await prisma.ingestSession.findUnique({ where: { id: session.id }, select: { openPrompt: true } }))?.openPrompt != null;
    const callsInTurn = new Map<number, number>();
    for (const c of plan.calls) callsInTurn.set(c.turnNumber, (callsInTurn.get(c.turnNumber) ?? 0) + 1);
    const messages: { role: "user" | "assistant"; content: string }[] = [];
    for (const { turn, number, closed, file } of plan.turns) {
      if (!turn.prompt) continue; // calls before the first prompt: no turn of their own
      messages.push({ role: "user", content: cut(turn.prompt.text) });
      const answer = turn.texts.at(-1);
      if (answer !== undefined) messages.push({ role: "assistant", content: cut(answer) });
      if (!closed || (liveTurnOpen && number >= chat.nextTurn)) {
        summary.skipped.openTurns++;
        continue;
      }
      if (number < chat.nextTurn) {
        summary.skipped.turns++;
        continue;
      }
      const state = {
        source: SOURCE,
        sessionId,
        cwd: plan.cwd,
        prompt: cut(turn.prompt.text, MAX_PROMPT_CHARS),
        toolCalls: callsInTurn.get(number) ?? 0,
        messages: messages.slice(-MAX_STATE_MESSAGES),
      };
      try {
        try {
          await services.snapshots.save({ chatId, turn: number, state });
        } catch (error) {
          // Over a small SNAPSHOT_STATE_MAX_BYTES: the turn is saved without its conversation.
          if (!(error instanceof ValidationError)) throw error;
          await services.snapshots.save({ chatId, turn: number, state: { ...state, prompt: cut(turn.prompt.text, 200), messages: [] } });
        }
        turnsSaved++;
        turnsByFile.set(file, (turnsByFile.get(file) ?? 0) + 1);
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        summary.skipped.turns++; // saved meanwhile (the live hooks' Stop)
      }
    }

    const tokensAfter = await sumTokens(prisma, chatId);
    const added = Object.fromEntries(KINDS.map((k) => [k, tokensAfter[k] - tokensBefore[k]])) as unknown as TokenCounts;
    for (const k of KINDS) summary.tokens[k] += added[k];
    summary.traces += traces;
    summary.turns += turnsSaved;
    if (created) summary.chats.created++;
    else if (traces > 0 || turnsSaved > 0 || KINDS.some((k) => added[k] !== 0) || changing.length > 0) summary.chats.updated++;
    done(chatId, created, tracesByFile, turnsByFile);
  }
  return summary;
}
