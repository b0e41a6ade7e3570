/**
 * Tracedeck's JSON Lines export, version 1 (docs/export-format.md): every line is one JSON object
 * with a `type`. The export writer (server/export/) produces these records and the import reads
 * them back with these schemas. The schemas have no defaults: every key is written, null when
 * empty, so a record read back equals the record written, and the content fingerprint
 * (server/export/fingerprint.ts) of a file and of the chat it came from agree.
 */
import { z } from "zod";
import { AgentMessageKind, AgentTurnStatus, TraceStatus } from "../../db/generated/prisma/enums.js";
import { parseDateTime } from "../../services/dates.js";
import { jsonProblem, storableJson, storableText } from "../../services/json.js";
import { MAX_JSON_DEPTH } from "../../services/validation.js";

export const EXPORT_TYPE = "tracedeck-export";
export const EXPORT_VERSION = 1;

/** An instant as RFC 3339 text; read back in its canonical form (UTC, milliseconds). */
const instant = z.string().transform((text, ctx) => {
  const parsed = parseDateTime(text);
  if (!parsed.ok) {
    ctx.addIssue({ code: "custom", message: parsed.problem });
    return z.NEVER;
  }
  return parsed.date.toISOString();
});
const uuid = z.uuid("must be a UUID").transform((id) => id.toLowerCase());
const count = z.number("must be a number").int("must be a whole number").min(0, "must not be negative").max(2_147_483_647, "must fit in 32 bits");
const turnNumber = count.min(1, "must be at least 1");
const label = (max: number) => z.string().min(1, "must not be empty").max(max, `must be at most ${max} characters`).transform(storableText);
const text = z.string().transform(storableText);
const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();

/** Any JSON value, checked as the services check stored JSON (depth, values JSON can hold). */
const json = z.unknown().transform((value, ctx) => {
  const problem = jsonProblem(value, MAX_JSON_DEPTH, Number.POSITIVE_INFINITY);
  if (problem) {
    ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
    return z.NEVER;
  }
  return storableJson(value);
});

export const tokens = z.strictObject({ input: count, output: count, cacheRead: count, cacheWrite: count, reasoning: count });

export const headerRecord = z.object({
  type: z.literal(EXPORT_TYPE),
  version: z.number().int(),
  chatId: uuid,
  exportedAt: instant,
  generator: z.string().max(200),
});

export const chatRecord = z.object({
  type: z.literal("chat"),
  id: uuid,
  title: label(500),
  workspace: nullable(text),
  createdAt: instant,
  lastActivityAt: instant,
  currentSessionId: uuid,
  nextTurn: turnNumber,
  continuedFromTurn: nullable(turnNumber),
});

export const ingestSessionRecord = z.object({
  type: z.literal("ingest_session"),
  id: uuid,
  source: label(64),
  externalId: label(512),
  cwd: nullable(text),
  openPrompt: nullable(text),
  lastPromptId: nullable(text),
  titledByPrompt: z.boolean(),
  createdAt: instant,
  updatedAt: instant,
});

export const agentSettingsRecord = z.object({
  type: z.literal("agent_settings"),
  provider: label(64),
  model: label(200),
  workspace: text,
  buildCommand: nullable(json),
  fixAttempts: count,
  updatedAt: instant,
});

export const agentTurnRecord = z.object({
  type: z.literal("agent_turn"),
  id: uuid,
  turnNumber,
  trigger: z.enum(["user", "autofix"]),
  prompt: text,
  status: z.enum(AgentTurnStatus),
  outcome: nullable(text),
  error: nullable(text),
  fixAttempt: nullable(count),
  fixFollows: z.boolean(),
  steps: count,
  tokens,
  provider: label(64),
  model: label(200),
  ownerRunId: uuid,
  startedAt: instant,
  finishedAt: nullable(instant),
});

export const agentMessageRecord = z.object({
  type: z.literal("agent_message"),
  id: uuid,
  turnNumber: count,
  kind: z.enum(AgentMessageKind),
  text,
  createdAt: instant,
});

export const modelStepRecord = z.object({
  type: z.literal("model_step"),
  stepKey: label(1024),
  tokens,
  updatedAt: instant,
});

export const traceRecord = z.object({
  type: z.literal("trace"),
  id: uuid,
  sessionId: uuid,
  messageId: nullable(label(512)),
  toolCallId: nullable(label(512)),
  turnNumber,
  toolName: label(256),
  toolInput: json,
  toolOutput: nullable(text),
  outputBytes: nullable(count),
  outputHash: nullable(z.string().max(128)),
  startedAt: instant,
  startedAtFromClient: z.boolean(),
  finishedAt: nullable(instant),
  latencyMs: nullable(count),
  status: z.enum(TraceStatus),
  error: nullable(text),
  outcome: nullable(text),
  tokens,
  createdAt: instant,
  ownerRunId: nullable(uuid),
  agentId: nullable(label(256)),
  agentType: nullable(label(256)),
  startHash: z.string().max(128),
  finishHash: nullable(z.string().max(128)),
  /** Secrets replaced in the input, output and error. Added after version 1's first files: absent reads as 0. */
  scrubbedCount: count.default(0),
});

export const snapshotRevisionRecord = z.object({
  type: z.literal("snapshot_revision"),
  id: uuid,
  turn: turnNumber,
  sessionId: uuid,
  state: json.refine((state) => state !== null && typeof state === "object" && !Array.isArray(state), "must be a JSON object"),
  stateBytes: count,
  createdAt: instant,
  supersededAt: nullable(instant),
  restoredFrom: nullable(turnNumber),
});

export const snapshotHeadRecord = z.object({
  type: z.literal("snapshot_head"),
  currentRevisionId: uuid,
  turn: turnNumber,
  updatedAt: instant,
});

const counts = z.strictObject({ traces: count, modelSteps: count, snapshotRevisions: count, agentTurns: count, agentMessages: count });

export const endRecord = z.object({ type: z.literal("end"), counts });

/** The records between a header and its end line: the chat's content. */
export const contentRecord = z.discriminatedUnion("type", [
  chatRecord,
  ingestSessionRecord,
  agentSettingsRecord,
  agentTurnRecord,
  agentMessageRecord,
  modelStepRecord,
  traceRecord,
  snapshotRevisionRecord,
  snapshotHeadRecord,
]);

export type HeaderRecord = z.output<typeof headerRecord>;
export type ChatRecord = z.output<typeof chatRecord>;
export type IngestSessionRecord = z.output<typeof ingestSessionRecord>;
export type AgentSettingsRecord = z.output<typeof agentSettingsRecord>;
export type AgentTurnRecord = z.output<typeof agentTurnRecord>;
export type AgentMessageRecord = z.output<typeof agentMessageRecord>;
export type ModelStepRecord = z.output<typeof modelStepRecord>;
export type TraceRecord = z.output<typeof traceRecord>;
export type SnapshotRevisionRecord = z.output<typeof snapshotRevisionRecord>;
export type SnapshotHeadRecord = z.output<typeof snapshotHeadRecord>;
export type ContentRecord = z.output<typeof contentRecord>;
export type EndRecord = z.output<typeof endRecord>;
export type ExportCounts = EndRecord["counts"];

/** The order of a section's lines: a record may not come after a later kind (the import relies on it). */
export const RECORD_ORDER: readonly ContentRecord["type"][] = [
  "chat",
  "ingest_session",
  "agent_settings",
  "agent_turn",
  "agent_message",
  "model_step",
  "trace",
  "snapshot_revision",
  "snapshot_head",
];

/** The record types of which a chat has at most one. */
export const SINGLE_RECORDS: ReadonlySet<string> = new Set(["chat", "ingest_session", "agent_settings", "snapshot_head"]);
