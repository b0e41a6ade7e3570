/**
 * An ExportTraceServiceRequest (OTLP/JSON's shape; a binary request is converted to it first) read
 * into spans. A broken envelope (not an object, resourceSpans not a list…) refuses the whole
 * request; a span that cannot be read is rejected alone, with its reason, and its neighbours go on.
 */
import { type Attributes, SpanProblem, attributesOf } from "./any-value.js";

export interface OtlpSpan {
  /** Lower-case hex: 32 digits, and 16 for span ids. */
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Attributes;
  resource: Attributes;
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
}

export interface SpanRejection {
  traceId?: string;
  spanId?: string;
  reason: string;
}

/** The request as a whole cannot be read: HTTP 400. */
export class BadOtlpRequest extends Error {
  override name = "BadOtlpRequest";
}

/** How the request writes trace and span ids: OTLP/JSON in hex (base64 tolerated), protobuf as bytes (base64 here). */
export type IdEncoding = "json" | "protobuf";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const HEX = /^[0-9a-f]+$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function idOf(value: unknown, bytes: number, encoding: IdEncoding, what: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new SpanProblem(`${what} must be a string`);
  let hex: string | undefined;
  if (encoding === "json" && value.length === bytes * 2 && HEX.test(value)) hex = value.toLowerCase();
  else if (BASE64.test(value) && Buffer.from(value, "base64").length === bytes) hex = Buffer.from(value, "base64").toString("hex");
  if (!hex) throw new SpanProblem(`${what} ${JSON.stringify(value.slice(0, 64))} is not ${bytes} bytes in ${encoding === "json" ? "hex" : "base64"}`);
  if (/^0+$/.test(hex)) throw new SpanProblem(`${what} is all zeros, which is not a valid id`);
  return hex;
}

/** Unix nanoseconds: a fixed64, written as a decimal string (or a number) in JSON. */
function nanosOf(value: unknown, what: string): bigint {
  if (typeof value === "string" && /^\d{1,20}$/.test(value)) return BigInt(value);
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (value === undefined || value === null) return 0n;
  throw new SpanProblem(`${what} ${JSON.stringify(value)} is not unix nanoseconds`);
}

const STATUS_NAMES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

function statusOf(value: unknown): OtlpSpan["status"] {
  if (value === undefined || value === null) return { code: 0, message: "" };
  if (!isRecord(value)) throw new SpanProblem("status must be an object");
  const code = typeof value.code === "string" ? STATUS_NAMES[value.code] : (value.code ?? 0);
  if (code !== 0 && code !== 1 && code !== 2) throw new SpanProblem(`status.code ${JSON.stringify(value.code)} is not 0 (unset), 1 (ok) or 2 (error)`);
  if (value.message !== undefined && value.message !== null && typeof value.message !== "string") throw new SpanProblem("status.message must be a string");
  return { code, message: (value.message as string | undefined) ?? "" };
}

function spanOf(raw: unknown, resource: Attributes, encoding: IdEncoding): OtlpSpan {
  if (!isRecord(raw)) throw new SpanProblem("a span must be an object");
  const traceId = idOf(raw.traceId, 16, encoding, "traceId");
  const spanId = idOf(raw.spanId, 8, encoding, "spanId");
  if (!traceId) throw new SpanProblem("traceId is missing");
  if (!spanId) throw new SpanProblem("spanId is missing");
  if (raw.name !== undefined && typeof raw.name !== "string") throw new SpanProblem("name must be a string");
  return {
    traceId,
    spanId,
    parentSpanId: idOf(raw.parentSpanId, 8, encoding, "parentSpanId"),
    name: (raw.name as string | undefined) ?? "",
    startNs: nanosOf(raw.startTimeUnixNano, "startTimeUnixNano"),
    endNs: nanosOf(raw.endTimeUnixNano, "endTimeUnixNano"),
    attributes: attributesOf(raw.attributes, "attributes"),
    resource,
    status: statusOf(raw.status),
  };
}

/** The ids a rejected span can still be named by, when they read. */
function idsForReport(raw: unknown, encoding: IdEncoding): { traceId?: string; spanId?: string } {
  const tryId = (v: unknown, bytes: number) => {
    try {
      return idOf(v, bytes, encoding, "id");
    } catch {
      return undefined;
    }
  };
  return isRecord(raw) ? { traceId: tryId(raw.traceId, 16), spanId: tryId(raw.spanId, 8) } : {};
}

function listOf(value: unknown, what: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new BadOtlpRequest(`${what} must be a list`);
  return value;
}

export function readSpans(request: unknown, encoding: IdEncoding): { spans: OtlpSpan[]; rejected: SpanRejection[] } {
  if (!isRecord(request)) throw new BadOtlpRequest("The body must be an ExportTraceServiceRequest object");
  const spans: OtlpSpan[] = [];
  const rejected: SpanRejection[] = [];
  listOf(request.resourceSpans, "resourceSpans").forEach((rs, r) => {
    if (!isRecord(rs)) throw new BadOtlpRequest(`resourceSpans[${r}] must be an object`);
    if (rs.resource !== undefined && rs.resource !== null && !isRecord(rs.resource)) throw new BadOtlpRequest(`resourceSpans[${r}].resource must be an object`);
    let resource: Attributes;
    try {
      resource = attributesOf(rs.resource?.attributes, `resourceSpans[${r}].resource.attributes`);
    } catch (error) {
      if (error instanceof SpanProblem) throw new BadOtlpRequest(error.message);
      throw error;
    }
    listOf(rs.scopeSpans, `resourceSpans[${r}].scopeSpans`).forEach((ss, s) => {
      if (!isRecord(ss)) throw new BadOtlpRequest(`resourceSpans[${r}].scopeSpans[${s}] must be an object`);
      for (const raw of listOf(ss.spans, `resourceSpans[${r}].scopeSpans[${s}].spans`)) {
        try {
          spans.push(spanOf(raw, resource, encoding));
        } catch (error) {
          if (!(error instanceof SpanProblem)) throw error;
          rejected.push({ ...idsForReport(raw, encoding), reason: error.message });
        }
      }
    });
  });
  return { spans, rejected };
}
