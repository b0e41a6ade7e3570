/**
 * Which model step asked for which tool call. The inference span that asked for a call is its
 * parent, or else its sibling just before it (same parent, the latest one started before the call
 * did). A step and its calls often arrive in different requests (a SimpleSpanProcessor exports each
 * span alone), so the places of recent steps and calls are kept per trace, in memory, bounded in
 * traces, spans and age. A call is joined to one step for good, the first one found, as the
 * database keeps it (attachStepUsage joins a call that has no step yet). A call that names its step
 * (tracedeck.message.id) is joined to the step span that carries the same name.
 */
import type { TokenCounts } from "../../services/tokens.js";
import { isZero } from "../../services/tokens.js";
import type { SpanPlace } from "./mapping.js";

export interface StepPlace extends SpanPlace {
  stepKey: string;
  tokens: TokenCounts | undefined;
}

export interface CallPlace extends SpanPlace {
  chatId: string;
  toolCallId: string;
  /** Set when the span named its step itself (tracedeck.message.id). */
  messageId: string | undefined;
}

/** A step's usage to store, with the calls it is joined to, in the calls' chat. */
export interface StepLink {
  chatId: string;
  stepKey: string;
  tokens: TokenCounts;
  toolCallIds: string[];
}

interface TraceEntry {
  steps: Map<string, StepPlace>;
  calls: Map<string, CallPlace & { stepKey?: string }>;
  touchedAt: number;
}

export interface StepIndexLimits {
  maxTraces: number;
  maxSpansPerTrace: number;
  maxAgeMs: number;
}

const DEFAULT_LIMITS: StepIndexLimits = { maxTraces: 10_000, maxSpansPerTrace: 2_000, maxAgeMs: 30 * 60_000 };

function boundedSet<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}

/** The step that asked for the call: its parent step, else the latest sibling step started before it. */
function stepOf(call: SpanPlace, steps: Map<string, StepPlace>): StepPlace | undefined {
  const parent = call.parentSpanId ? steps.get(call.parentSpanId) : undefined;
  if (parent) return parent;
  let best: StepPlace | undefined;
  for (const step of steps.values()) {
    if (step.parentSpanId !== call.parentSpanId || step.startNs >= call.startNs) continue;
    if (!best || step.startNs > best.startNs || (step.startNs === best.startNs && step.spanId > best.spanId)) best = step;
  }
  return best;
}

export function createStepIndex(limits: StepIndexLimits = DEFAULT_LIMITS) {
  const traces = new Map<string, TraceEntry>();

  function entryOf(traceId: string, now: number): TraceEntry {
    const entry = traces.get(traceId) ?? { steps: new Map(), calls: new Map(), touchedAt: now };
    entry.touchedAt = now;
    boundedSet(traces, traceId, entry, limits.maxTraces);
    // Least recently touched first: drop what has aged out.
    for (const [id, old] of traces) {
      if (now - old.touchedAt <= limits.maxAgeMs) break;
      traces.delete(id);
    }
    return entry;
  }

  return {
    /**
     * Adds a request's steps and stored calls, and returns the step usage to store: every step with
     * usage joined to calls of this request, or to earlier calls when the step is of this request.
     */
    add(steps: readonly StepPlace[], calls: readonly CallPlace[], now = Date.now()): StepLink[] {
      const touched = new Map<string, { steps: Set<string>; calls: Set<string> }>();
      const mark = (traceId: string) => touched.get(traceId) ?? touched.set(traceId, { steps: new Set(), calls: new Set() }).get(traceId)!;
      for (const step of steps) {
        boundedSet(entryOf(step.traceId, now).steps, step.spanId, step, limits.maxSpansPerTrace);
        mark(step.traceId).steps.add(step.spanId);
      }
      for (const call of calls) {
        const entry = entryOf(call.traceId, now);
        const known = entry.calls.get(call.spanId);
        boundedSet(entry.calls, call.spanId, { ...call, stepKey: known?.stepKey }, limits.maxSpansPerTrace);
        mark(call.traceId).calls.add(call.spanId);
      }
      const links = new Map<string, StepLink>();
      for (const [traceId, fresh] of touched) {
        const entry = traces.get(traceId);
        if (!entry) continue;
        const byKey = new Map([...entry.steps.values()].map((s) => [s.stepKey, s]));
        // New steps may be any known call's; otherwise only the new calls need a step.
        const calls = fresh.steps.size > 0 ? [...entry.calls.values()] : [...fresh.calls].map((id) => entry.calls.get(id)!).filter(Boolean);
        for (const call of calls) {
          // A call stays with the first step it was joined to; one that names its step goes to that one.
          const named = call.stepKey ?? call.messageId;
          const step = named ? byKey.get(named) : stepOf(call, entry.steps);
          if (!step || !step.tokens || isZero(step.tokens)) continue;
          if (!fresh.calls.has(call.spanId) && !fresh.steps.has(step.spanId)) continue;
          call.stepKey = step.stepKey;
          const key = `${call.chatId}\0${step.stepKey}`;
          const link = links.get(key) ?? { chatId: call.chatId, stepKey: step.stepKey, tokens: step.tokens, toolCallIds: [] };
          link.toolCallIds.push(call.toolCallId);
          links.set(key, link);
        }
      }
      return [...links.values()];
    },

    /** Traces held (tests). */
    get size(): number {
      return traces.size;
    },
  };
}

export type StepIndex = ReturnType<typeof createStepIndex>;
