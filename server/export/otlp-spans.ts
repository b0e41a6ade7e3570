/**
 * The spans of the OTLP export, in OTLP/JSON's shape (ExportTraceServiceRequest), with the
 * OpenTelemetry GenAI semantic conventions' attributes:
 * - one `execute_tool` span per trace: gen_ai.tool.name, gen_ai.tool.call.id, .arguments, .result,
 *   error.type when it did not end ok;
 * - one `chat` span per model step, the parent of the calls it made, with the step's usage:
 *   gen_ai.usage.input_tokens counts every input token, cache reads and writes included (Tracedeck
 *   stores input without them), gen_ai.usage.output_tokens includes reasoning.
 * Every span carries gen_ai.conversation.id, the chat's UUID.
 */
import type { ToolTrace } from "../db/generated/prisma/client.js";
import type { TokenCounts } from "../services/tokens.js";
import { stepSpanId, toolSpanId, otlpTraceId, unixNanos } from "./otlp-ids.js";

export type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean };
export interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  status: { code: number; message?: string };
}

/** OTLP's enums, as integers (OTLP/JSON requires them so). */
export const SPAN_KIND_INTERNAL = 1;
export const SPAN_KIND_CLIENT = 3;
const STATUS_UNSET = 0;
const STATUS_OK = 1;
const STATUS_ERROR = 2;

export const str = (key: string, value: string | null | undefined): KeyValue[] => (value == null ? [] : [{ key, value: { stringValue: value } }]);
export const int = (key: string, value: number | null | undefined): KeyValue[] => (value == null ? [] : [{ key, value: { intValue: String(value) } }]);
const bool = (key: string, value: boolean): KeyValue[] => [{ key, value: { boolValue: value } }];

export function toolSpan(trace: ToolTrace, parentSpanId: string | undefined): OtlpSpan {
  const ended = trace.status !== "running";
  const failed = ended && trace.status !== "ok";
  return {
    traceId: otlpTraceId(trace.chatId),
    spanId: toolSpanId(trace.id),
    ...(parentSpanId ? { parentSpanId } : {}),
    name: `execute_tool ${trace.toolName}`,
    kind: SPAN_KIND_INTERNAL,
    startTimeUnixNano: unixNanos(trace.startedAt),
    // A running call has no end yet: it is exported as an instant, its status unset.
    endTimeUnixNano: unixNanos(trace.finishedAt ?? trace.startedAt),
    attributes: [
      ...str("gen_ai.operation.name", "execute_tool"),
      ...str("gen_ai.conversation.id", trace.chatId),
      ...str("gen_ai.tool.name", trace.toolName),
      ...str("gen_ai.tool.call.id", trace.toolCallId),
      ...str("gen_ai.tool.call.arguments", JSON.stringify(trace.toolInput)),
      ...str("gen_ai.tool.call.result", trace.toolOutput),
      // error, timeout, cancelled or abandoned: Tracedeck's status is the error's class.
      ...str("error.type", failed ? trace.status : null),
      ...str("tracedeck.trace.id", trace.id),
      ...str("tracedeck.trace.status", trace.status),
      ...int("tracedeck.turn.number", trace.turnNumber),
      ...str("tracedeck.session.id", trace.sessionId),
      ...str("tracedeck.message.id", trace.messageId),
      ...str("tracedeck.agent.id", trace.agentId),
      ...str("tracedeck.agent.type", trace.agentType),
      ...str("tracedeck.outcome", trace.outcome),
      ...int("tracedeck.latency_ms", trace.latencyMs),
      ...int("tracedeck.output.bytes", trace.outputBytes),
      ...(trace.outputBytes !== null && trace.toolOutput !== null ? bool("tracedeck.output.truncated", Buffer.byteLength(trace.toolOutput) < trace.outputBytes) : []),
    ],
    status: !ended ? { code: STATUS_UNSET } : failed ? { code: STATUS_ERROR, ...(trace.error ? { message: trace.error } : {}) } : { code: STATUS_OK },
  };
}

export interface StepSpanInput {
  chatId: string;
  stepKey: string;
  /** Null when the step's calls were recorded without usage. */
  tokens: TokenCounts | null;
  /** From its first call's start to its last call's end; the step's last update when it has no calls. */
  start: Date;
  end: Date;
  calls: number;
  turnNumber: number | null;
  /** The provider and model of Tracedeck's agent in that turn, when the chat is the agent's. */
  provider?: string;
  model?: string;
}

export function stepSpan(step: StepSpanInput): OtlpSpan {
  const t = step.tokens;
  return {
    traceId: otlpTraceId(step.chatId),
    spanId: stepSpanId(step.chatId, step.stepKey),
    name: step.model ? `chat ${step.model}` : "chat",
    kind: SPAN_KIND_CLIENT,
    startTimeUnixNano: unixNanos(step.start),
    endTimeUnixNano: unixNanos(step.end),
    attributes: [
      ...str("gen_ai.operation.name", "chat"),
      ...str("gen_ai.conversation.id", step.chatId),
      ...str("gen_ai.provider.name", step.provider),
      ...str("gen_ai.request.model", step.model),
      ...(t
        ? [
            ...int("gen_ai.usage.input_tokens", t.input + t.cacheRead + t.cacheWrite),
            ...int("gen_ai.usage.output_tokens", t.output),
            ...int("gen_ai.usage.cache_read.input_tokens", t.cacheRead),
            ...int("gen_ai.usage.cache_creation.input_tokens", t.cacheWrite),
            ...int("gen_ai.usage.reasoning.output_tokens", t.reasoning),
          ]
        : []),
      ...str("tracedeck.step.key", step.stepKey),
      ...int("tracedeck.step.tool_calls", step.calls),
      ...int("tracedeck.turn.number", step.turnNumber),
    ],
    status: { code: STATUS_UNSET },
  };
}
