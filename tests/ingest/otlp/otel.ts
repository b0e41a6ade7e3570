// The real OpenTelemetry JS SDK (sdk-trace-base 2.0) for the OTLP ingest tests: a tracer whose spans
// go to a real OTLP exporter as each ends (SimpleSpanProcessor) or in batches (BatchSpanProcessor),
// a copy kept in memory to send again, and, on request, Pydantic Logfire's pending spans.
import { type Attributes, type Context, type HrTime, type Span, type SpanContext, TraceFlags, context, trace } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  RandomIdGenerator,
  type ReadableSpan,
  type Span as SdkSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";

/**
 * Logfire's PendingSpanProcessor (its JS SDK's onStart, on this SDK's span shape): when a span
 * starts, a copy of it goes to the wrapped processor as an ended span with its own span id, the
 * real span as its parent, logfire.span_type = "pending_span" and logfire.pending_parent_id = the
 * real span's parent.
 */
export class PendingSpanProcessor implements SpanProcessor {
  private readonly ids = new RandomIdGenerator();
  constructor(private readonly wrapped: SpanProcessor) {}

  onStart(span: SdkSpan, _parent: Context): void {
    const real = span.spanContext();
    if ((real.traceFlags & TraceFlags.SAMPLED) === 0) return;
    const type = span.attributes["logfire.span_type"];
    if (type !== undefined && type !== "span") return;
    const pendingContext: SpanContext = { traceId: real.traceId, spanId: this.ids.generateSpanId(), traceFlags: real.traceFlags, isRemote: false };
    const zero: HrTime = [0, 0];
    const pending: ReadableSpan = {
      name: span.name,
      kind: span.kind,
      spanContext: () => pendingContext,
      parentSpanContext: real,
      startTime: span.startTime,
      endTime: span.startTime,
      status: span.status,
      attributes: { ...span.attributes, "logfire.pending_parent_id": span.parentSpanContext?.spanId ?? "0000000000000000", "logfire.span_type": "pending_span" },
      links: span.links,
      events: span.events,
      duration: zero,
      ended: true,
      resource: span.resource,
      instrumentationScope: span.instrumentationScope,
      droppedAttributesCount: span.droppedAttributesCount,
      droppedEventsCount: span.droppedEventsCount,
      droppedLinksCount: span.droppedLinksCount,
    };
    this.wrapped.onEnd(pending);
  }

  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export function otelPipeline(exporter: SpanExporter, options: { pending?: boolean; batch?: boolean; resource?: Attributes } = {}) {
  const memory = new InMemorySpanExporter();
  // A batch leaves on flush (or after 5 s): every span ended before a flush goes in one request.
  const exporting = options.batch ? new BatchSpanProcessor(exporter, { scheduledDelayMillis: 5_000 }) : new SimpleSpanProcessor(exporter);
  const processors: SpanProcessor[] = [exporting, new SimpleSpanProcessor(memory)];
  if (options.pending) processors.push(new PendingSpanProcessor(exporting));
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": "otlp-test", ...options.resource }), spanProcessors: processors });
  const tracer = provider.getTracer("tracedeck-tests");
  return {
    start(name: string, attributes: Attributes, parent?: Span): Span {
      return tracer.startSpan(name, { attributes }, parent ? trace.setSpan(context.active(), parent) : undefined);
    },
    /** Waits until every ended span (and pending span) has been exported and answered. */
    flush: () => provider.forceFlush(),
    finished: (): ReadableSpan[] => memory.getFinishedSpans(),
    /** The spans exported again through the same exporter: a retried delivery. */
    resend: (spans: ReadableSpan[]) => new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(spans, resolve)),
    shutdown: () => provider.shutdown(),
  };
}

/** A Span's ids as OTLP writes them. */
export const idsOf = (span: Span | ReadableSpan) => ({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
