/**
 * Claude Code's hooks, recorded through the services: a session is a chat, a prompt opens a turn
 * and Stop closes it with a snapshot, PreToolUse starts a trace and PostToolUse(Failure) finishes
 * it. Deliveries may repeat or come out of order: the tool_use_id makes a repeat a no-op, and a
 * finish without its start records the call whole. After Stop (and SubagentStop, SessionEnd) the
 * transcript's new lines give each model step's token usage, in the background.
 */
import path from "node:path";
import type { ClaudeCodeConfig } from "../../config.js";
import type { IngestSession } from "../../db/generated/prisma/client.js";
import { ConflictError, NotFoundError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { Services } from "../../services/index.js";
import { parseInput } from "../../services/validation.js";
import { type HookBody, RECORDED_EVENTS, hookBody } from "./hook-body.js";
import { readTranscriptUsage } from "./transcript-usage.js";

export const SOURCE = "claude-code";

/** The conversation a Claude Code chat's snapshots keep: prompts and final answers, the latest ones, each cut to a length. */
const MAX_STATE_MESSAGES = 200;
const MAX_STATE_MESSAGE_CHARS = 4_000;
const clip = (text: string) => (text.length > MAX_STATE_MESSAGE_CHARS ? `${text.slice(0, MAX_STATE_MESSAGE_CHARS)}… [cut]` : text);

export interface HookResult {
  /** False for an event Tracedeck does not record (a newer Claude Code's): answered all the same. */
  recorded: boolean;
  chatId?: string;
}

type ToolEvent = Extract<HookBody, { tool_use_id: string }>;

/** A tool's response as trace output: text as is, anything else as JSON. */
export function responseText(response: unknown): string | undefined {
  if (response === undefined || response === null) return undefined;
  return typeof response === "string" ? response : JSON.stringify(response);
}

export function createClaudeCodeHooks(options: { services: Services; config: ClaudeCodeConfig; log: Logger }) {
  const { services, config, log } = options;
  /** Transcript reads under way, one chain per chat so a chat's reads never overlap. */
  const reading = new Map<string, Promise<void>>();

  function readUsageLater(chatId: string, transcripts: (string | undefined)[]): void {
    if (!config.readTranscripts) return;
    const previous = reading.get(chatId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        await readTranscriptUsage({
          services,
          config,
          log,
          chatId,
          transcripts: transcripts.filter((p): p is string => !!p),
        });
      })
      .catch((error: unknown) =>
        log.warn("claude_code.transcript_failed", {
          chatId,
          error: (error as Error).message,
        }),
      )
      .finally(() => {
        if (reading.get(chatId) === next) reading.delete(chatId);
      });
    reading.set(chatId, next);
  }

  const agentOf = (body: HookBody) => (body.agent_id ? { agentId: body.agent_id, agentType: body.agent_type || undefined } : {});

  async function finishOrRecord(chatId: string, body: ToolEvent, result: { output?: string; error?: string; status?: "cancelled" }): Promise<void> {
    const finish = {
      chatId,
      toolCallId: body.tool_use_id,
      latencyMs: body.duration_ms,
      ...result,
    };
    try {
      await services.traces.finish(finish);
    } catch (error) {
      if (error instanceof ConflictError) return; // finished already, differently: the first finish stands
      if (!(error instanceof NotFoundError && error.entity === "ToolTrace")) throw error;
      // The finish came without (or before) its start: the call is recorded whole.
      try {
        await services.traces.record({
          chatId,
          toolName: body.tool_name,
          toolInput: body.tool_input ?? {},
          toolCallId: body.tool_use_id,
          ...agentOf(body),
          ...result,
          latencyMs: body.duration_ms,
        });
      } catch (raced) {
        if (!(raced instanceof ConflictError)) throw raced;
        await services.traces.finish(finish).catch((again: unknown) => {
          if (!(again instanceof ConflictError)) throw again;
        });
      }
    }
  }

  /** Closes the open turn with a snapshot; a repeated Stop (nothing open) saves nothing. */
  async function closeTurn(session: IngestSession, body: Extract<HookBody, { hook_event_name: "Stop" }>): Promise<void> {
    await services.ingestSessions.closeTurn(session, ({ prompt, calls, messages }) => {
      if (prompt === null && calls === 0 && !body.last_assistant_message) return null;
      const conversation = [...messages];
      if (prompt !== null) conversation.push({ role: "user", content: clip(prompt) });
      if (body.last_assistant_message)
        conversation.push({
          role: "assistant",
          content: body.last_assistant_message,
        });
      return {
        source: SOURCE,
        sessionId: body.session_id,
        cwd: body.cwd ?? null,
        prompt,
        toolCalls: calls,
        messages: conversation.slice(-MAX_STATE_MESSAGES),
      };
    });
  }

  return {
    /** Records one hook delivery. A malformed body is a ValidationError and writes nothing. */
    async handle(raw: unknown): Promise<HookResult> {
      const event = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>).hook_event_name : undefined;
      if (typeof event === "string" && !RECORDED_EVENTS.has(event)) {
        // A newer Claude Code's event: checked for a session, then let be.
        parseInput(hookBody.options[0].pick({ session_id: true }), raw);
        return { recorded: false };
      }
      const body = parseInput(hookBody, raw);
      try {
        return await record(body);
      } catch (error) {
        // The session's chat was deleted (here or by another process): the next delivery starts a new one.
        if (!(error instanceof NotFoundError && error.entity === "Chat")) throw error;
        services.ingestSessions.forget(SOURCE, body.session_id);
        return record(body);
      }
    },

    /** Waits for the transcript reads under way (tests; stop). */
    async idle(): Promise<void> {
      while (reading.size > 0) await Promise.all([...reading.values()]);
    },
  };

  async function record(body: HookBody): Promise<HookResult> {
    const folder = body.cwd ? path.basename(body.cwd) : "";
    const { session } = await services.ingestSessions.open({
      source: SOURCE,
      externalId: body.session_id,
      title: body.hook_event_name === "UserPromptSubmit" && body.prompt.trim() ? body.prompt : folder || "Claude Code session",
      workspace: body.cwd,
      cwd: body.cwd,
    });
    const chatId = session.chatId;
    switch (body.hook_event_name) {
      case "PreToolUse":
        try {
          await services.traces.start({
            chatId,
            toolName: body.tool_name,
            toolInput: body.tool_input ?? {},
            toolCallId: body.tool_use_id,
            ...agentOf(body),
          });
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error; // recorded already (its finish came first)
        }
        break;
      case "PostToolUse":
        await finishOrRecord(chatId, body, {
          output: responseText(body.tool_response),
        });
        break;
      case "PostToolUseFailure":
        await finishOrRecord(chatId, body, {
          error: body.error || "the tool failed",
          status: body.is_interrupt ? "cancelled" : undefined,
        });
        break;
      case "UserPromptSubmit":
        await services.ingestSessions.openTurn(session, body.prompt, body.prompt_id);
        break;
      case "Stop":
        await closeTurn(session, body);
        readUsageLater(chatId, [body.transcript_path]);
        break;
      case "SubagentStop":
        readUsageLater(chatId, [body.transcript_path, body.agent_transcript_path]);
        break;
      case "SessionEnd":
        readUsageLater(chatId, [body.transcript_path]);
        break;
      default:
        break; // SessionStart, SubagentStart: the chat exists now
    }
    return { recorded: true, chatId };
  }
}

export type ClaudeCodeHooks = ReturnType<typeof createClaudeCodeHooks>;
