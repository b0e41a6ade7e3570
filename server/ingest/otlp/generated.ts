/**
 * The OTLP protobuf messages, through the protobufjs static code that @opentelemetry/otlp-transformer
 * ships (build/src/generated/root.js): decoding requests and encoding responses with it, never with
 * a hand-written codec. The file is CommonJS without an exports map and types of its own, so it is
 * required, and given the small typed surface used here.
 */
import { createRequire } from "node:module";

interface ConversionOptions {
  longs: StringConstructor;
  enums: NumberConstructor;
  bytes: StringConstructor;
  defaults: boolean;
}

interface GeneratedMessage {
  decode(buffer: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  toObject(message: object, options: ConversionOptions): Record<string, unknown>;
}

interface TraceCollectorV1 {
  ExportTraceServiceRequest: GeneratedMessage;
  ExportTraceServiceResponse: GeneratedMessage;
  ExportTracePartialSuccess: GeneratedMessage;
}

const root = createRequire(import.meta.url)("@opentelemetry/otlp-transformer/build/src/generated/root.js") as {
  opentelemetry: { proto: { collector: { trace: { v1: TraceCollectorV1 } } } };
};
const v1 = root.opentelemetry.proto.collector.trace.v1;

/**
 * A binary ExportTraceServiceRequest as the plain object of OTLP/JSON's field names: 64-bit
 * integers as decimal strings, enums as numbers, bytes (ids among them) as base64. Throws on bytes
 * that are not such a message.
 */
export function decodeProtobufRequest(body: Uint8Array): Record<string, unknown> {
  const message = v1.ExportTraceServiceRequest.decode(body);
  return v1.ExportTraceServiceRequest.toObject(message, { longs: String, enums: Number, bytes: String, defaults: false });
}

/** ExportTraceServiceResponse; partial_success left unset on full success, as the spec requires. */
export function encodeProtobufResponse(partialSuccess?: { rejectedSpans: number; errorMessage: string }): Buffer {
  return Buffer.from(v1.ExportTraceServiceResponse.encode(partialSuccess ? { partialSuccess } : {}).finish());
}

/**
 * google.rpc.Status { int32 code = 1; string message = 2; } for a failed request. The generated code
 * holds no google.rpc messages, but ExportTracePartialSuccess { int64 rejected_spans = 1; string
 * error_message = 2; } has the same field numbers and wire types (a non-negative varint, then a
 * string), so encoding one with those values yields exactly the bytes of that Status.
 */
export function encodeProtobufStatus(code: number, message: string): Buffer {
  return Buffer.from(v1.ExportTracePartialSuccess.encode({ rejectedSpans: code, errorMessage: message }).finish());
}
