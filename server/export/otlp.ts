/**
 * The OTLP JSON export of a chat: one ExportTraceServiceRequest whose spans are written as they
 * are read. First the `execute_tool` spans of its traces (paged by start), each under its model
 * step's span; then the `chat` spans of its steps (the steps with usage paged by key, then the
 * steps whose calls carry no usage). While the traces stream, a small summary per step is kept
 * (its calls' first start and last end, their count and turn) to place the step's span around
 * its calls: about a hundred bytes a step, never the traces themselves. See otlp-spans.ts.
 */
import type { Chat, ModelStep, PrismaClient } from "../db/generated/prisma/client.js";
import { stepPages, tracePages } from "./chat-rows.js";
import { stepSpanId } from "./otlp-ids.js";
import { type OtlpSpan, stepSpan, str, toolSpan } from "./otlp-spans.js";
import { tokensOf } from "./records.js";
import type { Sink } from "./sink.js";

interface StepCalls {
  first: Date;
  last: Date;
  calls: number;
  turn: number;
}

async function* toolSpans(prisma: PrismaClient, chat: Chat, steps: Map<string, StepCalls>): AsyncGenerator<OtlpSpan> {
  for await (const page of tracePages(prisma, chat.id)) {
    // A call without a message id has a step span only when its own step (trace:<id>) holds usage.
    const ownKeys = page.filter((t) => t.messageId === null).map((t) => `trace:${t.id}`);
    const withUsage = new Set(
      ownKeys.length
        ? (await prisma.modelStep.findMany({ where: { chatId: chat.id, stepKey: { in: ownKeys } }, select: { stepKey: true } })).map((s) => s.stepKey)
        : [],
    );
    for (const trace of page) {
      const key = trace.messageId ?? `trace:${trace.id}`;
      const inStep = trace.messageId !== null || withUsage.has(key);
      if (inStep) {
        const end = trace.finishedAt && trace.finishedAt > trace.startedAt ? trace.finishedAt : trace.startedAt;
        const seen = steps.get(key);
        if (!seen) steps.set(key, { first: trace.startedAt, last: end, calls: 1, turn: trace.turnNumber });
        else {
          if (trace.startedAt < seen.first) seen.first = trace.startedAt;
          if (end > seen.last) seen.last = end;
          seen.calls++;
          seen.turn = Math.min(seen.turn, trace.turnNumber);
        }
      }
      yield toolSpan(trace, inStep ? stepSpanId(chat.id, key) : undefined);
    }
  }
}

/** The chat spans of a batch of steps, with the provider and model of the agent's turn when there is one. */
async function stepBatch(prisma: PrismaClient, chat: Chat, batch: { key: string; usage: ModelStep | null; calls: StepCalls | undefined }[]): Promise<OtlpSpan[]> {
  const turnNumbers = [...new Set(batch.flatMap((s) => s.calls?.turn ?? []))];
  const turns = turnNumbers.length
    ? await prisma.agentTurn.findMany({ where: { chatId: chat.id, turnNumber: { in: turnNumbers } }, select: { turnNumber: true, provider: true, model: true } })
    : [];
  const byNumber = new Map(turns.map((t) => [t.turnNumber, t]));
  return batch.map(({ key, usage, calls }) => {
    const turn = calls ? byNumber.get(calls.turn) : undefined;
    // A step without calls (usage of a final answer) is an instant at its last update.
    const at = usage?.updatedAt ?? chat.createdAt;
    return stepSpan({
      chatId: chat.id,
      stepKey: key,
      tokens: usage ? tokensOf(usage) : null,
      start: calls?.first ?? at,
      end: calls?.last ?? at,
      calls: calls?.calls ?? 0,
      turnNumber: calls?.turn ?? null,
      provider: turn?.provider,
      model: turn?.model,
    });
  });
}

async function* stepSpans(prisma: PrismaClient, chat: Chat, steps: Map<string, StepCalls>): AsyncGenerator<OtlpSpan> {
  for await (const page of stepPages(prisma, chat.id)) {
    const batch = page.map((usage) => ({ key: usage.stepKey, usage, calls: steps.get(usage.stepKey) }));
    for (const { key } of batch) steps.delete(key);
    yield* await stepBatch(prisma, chat, batch);
  }
  // Steps whose calls were recorded without usage.
  const rest = [...steps.entries()].map(([key, calls]) => ({ key, usage: null, calls }));
  for (let i = 0; i < rest.length; i += 500) yield* await stepBatch(prisma, chat, rest.slice(i, i + 500));
}

export interface OtlpExportOptions {
  /** The service.version resource attribute and the scope's version. */
  version: string;
}

/** Writes the chat as one ExportTraceServiceRequest; returns the number of spans. */
export async function writeOtlpExport(prisma: PrismaClient, chat: Chat, sink: Sink, options: OtlpExportOptions): Promise<number> {
  const resource = {
    attributes: [...str("service.name", "tracedeck"), ...str("service.version", options.version), ...str("gen_ai.conversation.id", chat.id), ...str("tracedeck.chat.title", chat.title)],
  };
  const scope = { name: "tracedeck", version: options.version };
  // The request's head and tail are fixed; the spans between them are written one by one.
  const head = JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope, spans: [] }] }] });
  const open = head.slice(0, head.lastIndexOf("[]") + 1);
  const close = head.slice(head.lastIndexOf("[]") + 1);
  await sink.write(open);
  let spans = 0;
  const steps = new Map<string, StepCalls>();
  // In this order: the step spans need the summary the tool spans leave.
  for (const source of [() => toolSpans(prisma, chat, steps), () => stepSpans(prisma, chat, steps)]) {
    for await (const span of source()) {
      await sink.write(`${spans === 0 ? "" : ","}\n${JSON.stringify(span)}`);
      spans++;
    }
  }
  await sink.write(`\n${close}\n`);
  await sink.end();
  return spans;
}
