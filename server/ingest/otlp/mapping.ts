/**
 * What a span becomes in Tracedeck (OpenTelemetry GenAI semantic conventions): an execute_tool span
 * is a tool call; a chat, text_completion or generate_content span is a model step whose usage goes
 * to the tool calls it asked for; anything else is acknowledged and not stored. A Logfire pending
 * span (logfire.span_type = pending_span, exported when its real span starts, its parent being the
 * real span) starts the call as running, and the real span finishes it.
 */
import type { JsonValue } from "../../services/json.js";
import type { TokenCounts } from "../../services/tokens.js";
import { type Attributes, SpanProblem } from "./any-value.js";
import type { OtlpSpan } from "./spans.js";
import { usageOf } from "./usage.js";

export const ATTRIBUTES = {
  operation: "gen_ai.operation.name",
  toolName: "gen_ai.tool.name",
  toolArguments: "gen_ai.tool.call.arguments",
  toolResult: "gen_ai.tool.call.result",
  toolCallId: "gen_ai.tool.call.id",
  conversationId: "gen_ai.conversation.id",
  sessionId: "session.id",
  agentName: "gen_ai.agent.name",
  errorType: "error.type",
  serviceName: "service.name",
  /** Tracedeck's own: the turn (1, 2, …) and the model step (message) a call belongs to. */
  turn: "tracedeck.turn.number",
  message: "tracedeck.message.id",
  /** Pydantic Logfire's: the span's kind, and a pending span's real parent. */
  spanType: "logfire.span_type",
  pendingParent: "logfire.pending_parent_id",
} as const;

/** Inference operations: the model steps that ask for tool calls. */
export const INFERENCE_OPERATIONS = new Set(["chat", "text_completion", "generate_content"]);

const MAX_ID_LENGTH = 512;
const MAX_TOOL_NAME_LENGTH = 256;

/** The chat a span reports into: its conversation (or session), else its trace. */
export interface ChatKey {
  externalId: string;
  title: string;
}

export interface ToolCall {
  toolName: string;
  toolInput: JsonValue;
  toolCallId: string;
  startedAt: Date;
  finishedAt?: Date;
  output?: string;
  error?: string;
  status?: "timeout" | "cancelled";
  turnNumber?: number;
  messageId?: string;
}

/** Where a call or a model step sits in its trace, for joining usage to calls. */
export interface SpanPlace {
  traceId: string;
  /** The real span's id (a pending span's parent). */
  spanId: string;
  parentSpanId: string | undefined;
  startNs: bigint;
}

export type Classified =
  | { kind: "tool"; pending: boolean; chat: ChatKey; call: ToolCall; place: SpanPlace }
  | { kind: "inference"; place: SpanPlace; stepKey: string; tokens: TokenCounts | undefined }
  | { kind: "other" };

const attribute = (span: OtlpSpan, name: string): JsonValue | undefined => span.attributes.get(name) ?? undefined;

/** A string (or number) attribute as text; undefined when absent or empty. */
function textOf(attributes: Attributes, name: string): string | undefined {
  const value = attributes.get(name);
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") return String(value);
  if (typeof value !== "string") throw new SpanProblem(`${name} must be a string`);
  const text = value.trim();
  if (text.length > MAX_ID_LENGTH) throw new SpanProblem(`${name} is longer than ${MAX_ID_LENGTH} characters`);
  return text === "" ? undefined : text;
}

function chatKeyOf(span: OtlpSpan): ChatKey {
  const conversation =
    textOf(span.attributes, ATTRIBUTES.conversationId) ??
    textOf(span.attributes, ATTRIBUTES.sessionId) ??
    textOf(span.resource, ATTRIBUTES.conversationId) ??
    textOf(span.resource, ATTRIBUTES.sessionId);
  const agent = textOf(span.attributes, ATTRIBUTES.agentName) ?? textOf(span.resource, ATTRIBUTES.serviceName) ?? "OpenTelemetry";
  return conversation
    ? { externalId: conversation, title: `${agent} · ${conversation}` }
    : { externalId: `trace:${span.traceId}`, title: `${agent} · trace ${span.traceId.slice(0, 8)}` };
}

const dateOf = (ns: bigint) => new Date(Number(ns / 1_000_000n));

/**
 * Arguments as the tool got them: an object or a list, also when sent as JSON text (the conventions
 * allow either form); any other value is kept as text (a bare number could not be stored exactly).
 */
function toolInputOf(value: JsonValue | undefined): JsonValue {
  if (value === undefined || value === null) return {};
  if (typeof value !== "string") return typeof value === "object" ? value : JSON.stringify(value);
  try {
    const parsed = JSON.parse(value) as JsonValue;
    return typeof parsed === "object" && parsed !== null ? parsed : value;
  } catch {
    return value;
  }
}

function outputOf(value: JsonValue | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** ERROR status is an error with its message; error.type alone marks one too ("timeout" and "cancelled" keep their own status). */
function outcomeOf(span: OtlpSpan): Pick<ToolCall, "error" | "status"> {
  const errorType = textOf(span.attributes, ATTRIBUTES.errorType);
  if (span.status.code !== 2 && !errorType) return {};
  const error = span.status.message.trim() || errorType || "the tool failed";
  const kind = errorType?.toLowerCase();
  const status = kind === "timeout" ? "timeout" : kind === "cancelled" || kind === "canceled" ? "cancelled" : undefined;
  return status ? { error, status } : { error };
}

function turnOf(span: OtlpSpan): number | undefined {
  const value = attribute(span, ATTRIBUTES.turn);
  if (value === undefined || value === null) return undefined;
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 2_147_483_647) throw new SpanProblem(`${ATTRIBUTES.turn} must be a whole number from 1, not ${JSON.stringify(value)}`);
  return n;
}

function toolOf(span: OtlpSpan, pending: boolean): Classified {
  const toolName = textOf(span.attributes, ATTRIBUTES.toolName);
  if (!toolName) throw new SpanProblem(`an execute_tool span needs ${ATTRIBUTES.toolName}`);
  if (toolName.length > MAX_TOOL_NAME_LENGTH) throw new SpanProblem(`${ATTRIBUTES.toolName} is longer than ${MAX_TOOL_NAME_LENGTH} characters`);
  if (span.startNs === 0n) throw new SpanProblem("startTimeUnixNano is missing");
  // A pending span's parent is its real span, whose own parent it carries as an attribute.
  const realSpanId = pending ? span.parentSpanId : span.spanId;
  if (!realSpanId) throw new SpanProblem("a pending span needs its real span as parent (parentSpanId)");
  const pendingParent = pending ? textOf(span.attributes, ATTRIBUTES.pendingParent)?.toLowerCase() : undefined;
  const parentSpanId = pending ? (pendingParent && /^[0-9a-f]{16}$/.test(pendingParent) && !/^0+$/.test(pendingParent) ? pendingParent : undefined) : span.parentSpanId;
  const call: ToolCall = {
    toolName,
    toolInput: toolInputOf(attribute(span, ATTRIBUTES.toolArguments)),
    toolCallId: textOf(span.attributes, ATTRIBUTES.toolCallId) ?? `span:${span.traceId}:${realSpanId}`,
    startedAt: dateOf(span.startNs),
    turnNumber: turnOf(span),
    messageId: textOf(span.attributes, ATTRIBUTES.message),
  };
  if (!pending) {
    if (span.endNs === 0n) throw new SpanProblem("endTimeUnixNano is missing: the span has not ended");
    if (span.endNs < span.startNs) throw new SpanProblem("endTimeUnixNano is before startTimeUnixNano");
    Object.assign(call, { finishedAt: dateOf(span.endNs), output: outputOf(attribute(span, ATTRIBUTES.toolResult)), ...outcomeOf(span) });
  }
  return { kind: "tool", pending, chat: chatKeyOf(span), call, place: { traceId: span.traceId, spanId: realSpanId, parentSpanId, startNs: span.startNs } };
}

/** Classifies a span; throws SpanProblem for one that must be rejected. */
export function classify(span: OtlpSpan): Classified {
  const operation = attribute(span, ATTRIBUTES.operation);
  const spanType = attribute(span, ATTRIBUTES.spanType);
  const pending = spanType === "pending_span";
  if (operation === "execute_tool" && (pending || spanType === undefined || spanType === "span")) return toolOf(span, pending);
  if (typeof operation === "string" && INFERENCE_OPERATIONS.has(operation) && !pending && (spanType === undefined || spanType === "span")) {
    return {
      kind: "inference",
      place: { traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId, startNs: span.startNs },
      stepKey: textOf(span.attributes, ATTRIBUTES.message) ?? `otlp:${span.traceId}:${span.spanId}`,
      tokens: usageOf(span.attributes),
    };
  }
  return { kind: "other" };
}
