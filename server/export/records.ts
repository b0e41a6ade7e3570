/**
 * A chat's rows as the records of the JSON Lines export (server/ingest/tracedeck/format.ts holds
 * their schemas), in the order of the file. Every key is written, null when empty. The file
 * journal (files' earlier contents, stored raw for rewind) is left out: it is the one place
 * Tracedeck keeps unscrubbed data. So are the transcript offsets of an ingest session (paths on
 * the machine that read them) and the event log, which the import rebuilds from the rows.
 */
import type { AgentMessage, AgentSnapshotRevision, AgentTurn, Chat, ModelStep, PrismaClient, ToolTrace } from "../db/generated/prisma/client.js";
import type {
  AgentMessageRecord,
  AgentSettingsRecord,
  AgentTurnRecord,
  ChatRecord,
  ContentRecord,
  ExportCounts,
  IngestSessionRecord,
  ModelStepRecord,
  SnapshotHeadRecord,
  SnapshotRevisionRecord,
  TraceRecord,
} from "../ingest/tracedeck/format.js";
import type { TokenCounts } from "../services/tokens.js";
import { messagePages, revisionPages, stepPages, tracePages, turnPages } from "./chat-rows.js";

const iso = (date: Date) => date.toISOString();
const isoOrNull = (date: Date | null) => (date ? date.toISOString() : null);

type TokenColumns = { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheWriteTokens: number; reasoningTokens: number };
export const tokensOf = (row: TokenColumns): TokenCounts => ({
  input: row.inputTokens,
  output: row.outputTokens,
  cacheRead: row.cacheReadTokens,
  cacheWrite: row.cacheWriteTokens,
  reasoning: row.reasoningTokens,
});

export const chatRecordOf = (c: Chat): ChatRecord => ({
  type: "chat",
  id: c.id,
  title: c.title,
  workspace: c.workspace,
  createdAt: iso(c.createdAt),
  lastActivityAt: iso(c.lastActivityAt),
  currentSessionId: c.currentSessionId,
  nextTurn: c.nextTurn,
  continuedFromTurn: c.continuedFromTurn,
});

export const traceRecordOf = (t: ToolTrace): TraceRecord => ({
  type: "trace",
  id: t.id,
  sessionId: t.sessionId,
  messageId: t.messageId,
  toolCallId: t.toolCallId,
  turnNumber: t.turnNumber,
  toolName: t.toolName,
  toolInput: t.toolInput as TraceRecord["toolInput"],
  toolOutput: t.toolOutput,
  outputBytes: t.outputBytes,
  outputHash: t.outputHash,
  startedAt: iso(t.startedAt),
  startedAtFromClient: t.startedAtFromClient,
  finishedAt: isoOrNull(t.finishedAt),
  latencyMs: t.latencyMs,
  status: t.status,
  error: t.error,
  outcome: t.outcome,
  tokens: tokensOf(t),
  createdAt: iso(t.createdAt),
  ownerRunId: t.ownerRunId,
  agentId: t.agentId,
  agentType: t.agentType,
  startHash: t.startHash,
  finishHash: t.finishHash,
  scrubbedCount: t.scrubbedCount,
});

export const stepRecordOf = (s: ModelStep): ModelStepRecord => ({ type: "model_step", stepKey: s.stepKey, tokens: tokensOf(s), updatedAt: iso(s.updatedAt) });

export const revisionRecordOf = (r: AgentSnapshotRevision): SnapshotRevisionRecord => ({
  type: "snapshot_revision",
  id: r.id,
  turn: r.turn,
  sessionId: r.sessionId,
  state: r.state as SnapshotRevisionRecord["state"],
  stateBytes: r.stateBytes,
  createdAt: iso(r.createdAt),
  supersededAt: isoOrNull(r.supersededAt),
  restoredFrom: r.restoredFrom,
});

export const turnRecordOf = (t: AgentTurn): AgentTurnRecord => ({
  type: "agent_turn",
  id: t.id,
  turnNumber: t.turnNumber,
  trigger: t.trigger as AgentTurnRecord["trigger"],
  prompt: t.prompt,
  status: t.status,
  outcome: t.outcome,
  error: t.error,
  fixAttempt: t.fixAttempt,
  fixFollows: t.fixFollows,
  steps: t.steps,
  tokens: tokensOf(t),
  provider: t.provider,
  model: t.model,
  ownerRunId: t.ownerRunId,
  startedAt: iso(t.startedAt),
  finishedAt: isoOrNull(t.finishedAt),
});

export const messageRecordOf = (m: AgentMessage): AgentMessageRecord => ({
  type: "agent_message",
  id: m.id,
  turnNumber: m.turnNumber,
  kind: m.kind,
  text: m.text,
  createdAt: iso(m.createdAt),
});

export interface ChatRecords {
  chat: Chat;
  /** The content records in file order, read a page at a time; `counts` is complete once it is done. */
  records: AsyncGenerator<ContentRecord>;
  counts: ExportCounts;
}

/** The chat's records, or null when there is no such chat. */
export async function readChatRecords(prisma: PrismaClient, chatId: string): Promise<ChatRecords | null> {
  const chat = await prisma.chat.findUnique({ where: { id: chatId } });
  if (!chat) return null;
  const counts: ExportCounts = { traces: 0, modelSteps: 0, snapshotRevisions: 0, agentTurns: 0, agentMessages: 0 };

  async function* records(): AsyncGenerator<ContentRecord> {
    yield chatRecordOf(chat!);
    const [session, settings] = await Promise.all([
      prisma.ingestSession.findUnique({ where: { chatId } }),
      prisma.agentSettings.findUnique({ where: { chatId } }),
    ]);
    if (session) {
      yield {
        type: "ingest_session",
        id: session.id,
        source: session.source,
        externalId: session.externalId,
        cwd: session.cwd,
        openPrompt: session.openPrompt,
        lastPromptId: session.lastPromptId,
        titledByPrompt: session.titledByPrompt,
        createdAt: iso(session.createdAt),
        updatedAt: iso(session.updatedAt),
      } satisfies IngestSessionRecord;
    }
    if (settings) {
      yield {
        type: "agent_settings",
        provider: settings.provider,
        model: settings.model,
        workspace: settings.workspace,
        buildCommand: settings.buildCommand as AgentSettingsRecord["buildCommand"],
        fixAttempts: settings.fixAttempts,
        updatedAt: iso(settings.updatedAt),
      } satisfies AgentSettingsRecord;
    }
    const tables = [
      [turnPages(prisma, chatId), turnRecordOf, "agentTurns"],
      [messagePages(prisma, chatId), messageRecordOf, "agentMessages"],
      [stepPages(prisma, chatId), stepRecordOf, "modelSteps"],
      [tracePages(prisma, chatId), traceRecordOf, "traces"],
      [revisionPages(prisma, chatId), revisionRecordOf, "snapshotRevisions"],
    ] as [AsyncGenerator<unknown[]>, (row: never) => ContentRecord, keyof ExportCounts][];
    for (const [pages, recordOf, counted] of tables) {
      for await (const page of pages) {
        for (const row of page) {
          counts[counted]++;
          yield recordOf(row as never);
        }
      }
    }
    const head = await prisma.agentSnapshot.findUnique({ where: { chatId } });
    if (head) yield { type: "snapshot_head", currentRevisionId: head.currentRevisionId, turn: head.turn, updatedAt: iso(head.updatedAt) } satisfies SnapshotHeadRecord;
  }

  return { chat, records: records(), counts };
}
