/**
 * OTLP/HTTP's two encodings: the request read into spans, and the answers written in the encoding
 * the request came in (ExportTraceServiceResponse on success, google.rpc.Status on failure).
 */
import { decodeProtobufRequest, encodeProtobufResponse, encodeProtobufStatus } from "./generated.js";
import { BadOtlpRequest, type OtlpSpan, type SpanRejection, readSpans } from "./spans.js";

export type OtlpFormat = "json" | "protobuf";

/** The encoding a Content-Type names, or undefined when OTLP/HTTP has none for it. */
export function formatOf(contentType: string | undefined): OtlpFormat | undefined {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/json") return "json";
  if (type === "application/x-protobuf" || type === "application/protobuf") return "protobuf";
  return undefined;
}

export const CONTENT_TYPES: Record<OtlpFormat, string> = { json: "application/json", protobuf: "application/x-protobuf" };

/** Throws BadOtlpRequest for a body that is not an ExportTraceServiceRequest in its encoding. */
export function decodeRequest(format: OtlpFormat, body: Buffer): { spans: OtlpSpan[]; rejected: SpanRejection[] } {
  let request: unknown;
  if (format === "json") {
    try {
      request = JSON.parse(body.toString("utf8"));
    } catch (error) {
      throw new BadOtlpRequest(`The body is not JSON: ${(error as Error).message}`);
    }
  } else {
    try {
      request = decodeProtobufRequest(body);
    } catch (error) {
      throw new BadOtlpRequest(`The body is not a protobuf ExportTraceServiceRequest: ${(error as Error).message}`);
    }
  }
  return readSpans(request, format);
}

/** The most rejections an error message names; the count covers them all. */
const NAMED_REJECTIONS = 10;

function rejectionMessage(rejected: SpanRejection[], total: number): string {
  const named = rejected.slice(0, NAMED_REJECTIONS).map((r) => `span ${r.spanId ?? "(no id)"}${r.traceId ? ` of trace ${r.traceId}` : ""}: ${r.reason}`);
  const more = rejected.length > NAMED_REJECTIONS ? `; and ${rejected.length - NAMED_REJECTIONS} more` : "";
  return `${rejected.length} of ${total} spans rejected: ${named.join("; ")}${more}`;
}

/** ExportTraceServiceResponse: partial_success set only when spans were rejected. */
export function encodeResponse(format: OtlpFormat, rejected: SpanRejection[], total: number): Buffer {
  const partialSuccess = rejected.length > 0 ? { rejectedSpans: rejected.length, errorMessage: rejectionMessage(rejected, total) } : undefined;
  if (format === "protobuf") return encodeProtobufResponse(partialSuccess);
  // Proto3 JSON writes int64 as a decimal string.
  return Buffer.from(JSON.stringify(partialSuccess ? { partialSuccess: { rejectedSpans: String(partialSuccess.rejectedSpans), errorMessage: partialSuccess.errorMessage } } : {}));
}

/** gRPC status codes carried in Status.code (informative only: OTLP clients act on the HTTP status). */
export const RPC_CODES = { invalidArgument: 3, internal: 13, unavailable: 14 } as const;

export function encodeStatus(format: OtlpFormat, code: number, message: string): Buffer {
  return format === "protobuf" ? encodeProtobufStatus(code, message) : Buffer.from(JSON.stringify({ code, message }));
}
