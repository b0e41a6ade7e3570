/**
 * OTLP spans to the services. Each span is read, classified and written on its own, so a span that
 * must be rejected (its reason reported in partial_success) never stops its neighbours. Every write
 * is idempotent, keyed by the call's tool_call_id (gen_ai.tool.call.id, or one made from the span's
 * ids), so a retried request stores nothing new. The request is answered only once all of its
 * writes are done; an outage fails it whole, and the sender retries it.
 */
import type { Limits } from "../../config.js";
import type { PrismaClient } from "../../db/generated/prisma/client.js";
import { ConflictError, NotFoundError, ValidationError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { Services } from "../../services/index.js";
import type { TokenCounts } from "../../services/tokens.js";
import { jsonValue, parseInput } from "../../services/validation.js";
import { SpanProblem } from "./any-value.js";
import { type ChatKey, type Classified, type ToolCall, classify } from "./mapping.js";
import type { OtlpSpan, SpanRejection } from "./spans.js";
import { type CallPlace, type StepIndex, type StepLink, type StepPlace, createStepIndex } from "./steps.js";

export const SOURCE = "otlp";

/** attachStepUsage takes at most this many calls per step. */
const CALLS_PER_STEP = 1000;

export interface ExportResult {
  spans: number;
  /** Tool calls started or recorded (replays included). */
  toolCalls: number;
  /** Spans acknowledged without being stored (agents, toolless steps, anything not GenAI). */
  acknowledged: number;
  rejected: SpanRejection[];
}

type ToolSpan = Extract<Classified, { kind: "tool" }> & { span: OtlpSpan };

const reject = (span: OtlpSpan, reason: string): SpanRejection => ({ traceId: span.traceId, spanId: span.spanId, reason });

const KINDS = ["input", "output", "cacheRead", "cacheWrite", "reasoning"] as const;

export interface OtlpIngestOptions {
  services: Services;
  /** Reads only: whether a step's usage is stored already (writes go through the services). */
  prisma: PrismaClient;
  limits: Pick<Limits, "toolInputMaxBytes">;
  log: Logger;
  index?: StepIndex;
}

export function createOtlpIngest(options: OtlpIngestOptions) {
  const { services, prisma, log } = options;
  const index = options.index ?? createStepIndex();
  const toolInput = jsonValue("toolInput", options.limits.toolInputMaxBytes);

  const chatOf = async (key: ChatKey) => (await services.ingestSessions.open({ source: SOURCE, externalId: key.externalId, title: key.title })).session.chatId;

  /** Runs a write in the key's chat; a chat deleted meanwhile is forgotten and made again, once. */
  async function inChat<T>(key: ChatKey, write: (chatId: string) => Promise<T>): Promise<T> {
    try {
      return await write(await chatOf(key));
    } catch (error) {
      if (!(error instanceof NotFoundError && error.entity === "Chat")) throw error;
      services.ingestSessions.forget(SOURCE, key.externalId);
      return write(await chatOf(key));
    }
  }

  /** A pending span: the call starts, running. Already there (its real span came first) is fine. */
  async function start(chatId: string, call: ToolCall): Promise<void> {
    try {
      await services.traces.start({ chatId, toolName: call.toolName, toolInput: call.toolInput, toolCallId: call.toolCallId, startedAt: call.startedAt, turnNumber: call.turnNumber, messageId: call.messageId });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }

  /**
   * A real span: the call recorded whole, or, when its pending span started it with other fields,
   * finished. A finish that contradicts the stored one is rejected; an identical one is a replay.
   */
  async function finish(chatId: string, call: ToolCall): Promise<void> {
    const result = { output: call.output, error: call.error, status: call.status, finishedAt: call.finishedAt };
    try {
      await services.traces.record({ chatId, toolName: call.toolName, toolInput: call.toolInput, toolCallId: call.toolCallId, startedAt: call.startedAt, turnNumber: call.turnNumber, messageId: call.messageId, ...result });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      await services.traces.finish({ chatId, toolCallId: call.toolCallId, ...result });
    }
  }

  /** Writes one call; resolves to its place for joining usage, or to its rejection. */
  async function writeCall(tool: ToolSpan): Promise<CallPlace | SpanRejection> {
    try {
      const chatId = await inChat(tool.chat, (id) => (tool.pending ? start(id, tool.call) : finish(id, tool.call)).then(() => id));
      return { ...tool.place, chatId, toolCallId: tool.call.toolCallId, messageId: tool.call.messageId };
    } catch (error) {
      if (error instanceof ValidationError) return reject(tool.span, error.message);
      if (error instanceof ConflictError) return reject(tool.span, `${error.message}; the first result stands`);
      throw error;
    }
  }

  /**
   * Whether storing a step's usage would change anything: a call to join to it, or a count above
   * the stored one. A repeated delivery then writes nothing, not even an event; and a step whose
   * calls all went to another step (a sibling that arrived late) stores nothing either.
   */
  async function changes(link: StepLink): Promise<boolean> {
    const [stored, calls] = await Promise.all([
      prisma.modelStep.findUnique({ where: { chatId_stepKey: { chatId: link.chatId, stepKey: link.stepKey } } }),
      prisma.toolTrace.findMany({ where: { chatId: link.chatId, toolCallId: { in: link.toolCallIds } }, select: { messageId: true } }),
    ]);
    if (calls.some((c) => c.messageId === null)) return true;
    if (!stored) return calls.some((c) => c.messageId === link.stepKey);
    const counts: TokenCounts = { input: stored.inputTokens, output: stored.outputTokens, cacheRead: stored.cacheReadTokens, cacheWrite: stored.cacheWriteTokens, reasoning: stored.reasoningTokens };
    return KINDS.some((k) => link.tokens[k] > counts[k]);
  }

  /** Each step's usage, stored once, joined to its calls (attachStepUsage: the largest count of each kind). */
  async function attachUsage(links: StepLink[]): Promise<void> {
    const byChat = new Map<string, { stepKey: string; tokens: TokenCounts; toolCallIds: string[] }[]>();
    for (const link of links) {
      for (let i = 0; i < link.toolCallIds.length; i += CALLS_PER_STEP) {
        const part = { ...link, toolCallIds: link.toolCallIds.slice(i, i + CALLS_PER_STEP) };
        if (!(await changes(part))) continue;
        const steps = byChat.get(link.chatId) ?? byChat.set(link.chatId, []).get(link.chatId)!;
        steps.push({ stepKey: part.stepKey, tokens: part.tokens, toolCallIds: part.toolCallIds });
      }
    }
    for (const [chatId, steps] of byChat) {
      try {
        await services.traces.attachStepUsage(chatId, steps);
      } catch (error) {
        // The chat was deleted since its calls were written: nothing left to count the usage on.
        if (!(error instanceof NotFoundError && error.entity === "Chat")) throw error;
      }
    }
  }

  return {
    async export(request: { spans: OtlpSpan[]; rejected: SpanRejection[] }): Promise<ExportResult> {
      const rejected = [...request.rejected];
      const tools: ToolSpan[] = [];
      const steps: StepPlace[] = [];
      let acknowledged = 0;
      for (const span of request.spans) {
        let classified: Classified;
        try {
          classified = classify(span);
        } catch (error) {
          if (!(error instanceof SpanProblem)) throw error;
          rejected.push(reject(span, error.message));
          continue;
        }
        if (classified.kind === "tool") {
          // The input is checked as the service checks it, before a chat is made for it.
          try {
            parseInput(toolInput, classified.call.toolInput);
          } catch (error) {
            if (!(error instanceof ValidationError)) throw error;
            rejected.push(reject(span, error.message));
            continue;
          }
          tools.push({ ...classified, span });
        }
        else if (classified.kind === "inference") steps.push({ ...classified.place, stepKey: classified.stepKey, tokens: classified.tokens });
        else acknowledged++;
      }
      // A real span in the same request makes its pending span redundant.
      const finals = new Set(tools.filter((t) => !t.pending).map((t) => `${t.place.traceId}/${t.place.spanId}`));
      const writes = tools.filter((t) => !t.pending || !finals.has(`${t.place.traceId}/${t.place.spanId}`));
      acknowledged += tools.length - writes.length;

      // Chats first, one open per chat, so that concurrent writes do not race to create them.
      const chats = new Map(writes.map((t) => [t.chat.externalId, t.chat]));
      for (const key of chats.values()) {
        // A key the service refuses is reported with each of its spans by writeCall.
        await chatOf(key).catch((error: unknown) => {
          if (!(error instanceof ValidationError)) throw error;
        });
      }
      // Each write settles before the request is answered; an unexpected failure fails it whole.
      const settled = await Promise.allSettled(writes.map(writeCall));
      const failure = settled.find((s) => s.status === "rejected");
      if (failure) throw failure.reason;
      const calls: CallPlace[] = [];
      for (const s of settled as PromiseFulfilledResult<CallPlace | SpanRejection>[]) {
        if ("chatId" in s.value) calls.push(s.value);
        else rejected.push(s.value);
      }
      await attachUsage(index.add(steps, calls));

      const result = { spans: request.spans.length + request.rejected.length, toolCalls: calls.length, acknowledged, rejected };
      log.debug("otlp.exported", { spans: result.spans, toolCalls: result.toolCalls, steps: steps.length, acknowledged, rejected: rejected.length });
      return result;
    },
  };
}

export type OtlpIngest = ReturnType<typeof createOtlpIngest>;
