import type { ServerResponse } from "node:http";
import { isDatabaseUnavailable } from "../db/availability.js";
import { type OtlpIngestOptions, createOtlpIngest } from "../ingest/otlp/ingest.js";
import { BadOtlpRequest } from "../ingest/otlp/spans.js";
import { CONTENT_TYPES, type OtlpFormat, RPC_CODES, decodeRequest, encodeResponse, encodeStatus, formatOf } from "../ingest/otlp/wire.js";
import type { Endpoint } from "./routes.js";

function send(res: ServerResponse, status: number, format: OtlpFormat, body: Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": CONTENT_TYPES[format], "content-length": String(body.length), ...headers });
  res.end(body);
}

/**
 * POST /v1/traces: OTLP/HTTP trace export (OpenTelemetry GenAI spans), JSON or protobuf, gzip or
 * not (the guard reads and bounds the body). Answers as the OTLP spec says: 200 with an
 * ExportTraceServiceResponse (partial_success naming rejected spans), 400 for a body that does not
 * decode, 415 for another content type, 503 with Retry-After while the database is down; failures
 * carry a google.rpc.Status, in the request's encoding.
 */
export function otlpTracesEndpoint(options: OtlpIngestOptions): Endpoint {
  const { log } = options;
  const ingest = createOtlpIngest(options);
  return {
    path: "/v1/traces",
    scope: "ingest",
    methods: ["POST"],
    async handle(req, res, body) {
      const format = formatOf(req.headers["content-type"]);
      if (!format) {
        const message = `Content-Type ${JSON.stringify(req.headers["content-type"] ?? "")} is not OTLP/HTTP: send application/json or application/x-protobuf`;
        return send(res, 415, "json", encodeStatus("json", RPC_CODES.invalidArgument, message));
      }
      let request;
      try {
        request = decodeRequest(format, body ?? Buffer.alloc(0));
      } catch (error) {
        if (!(error instanceof BadOtlpRequest)) throw error;
        return send(res, 400, format, encodeStatus(format, RPC_CODES.invalidArgument, error.message));
      }
      try {
        const result = await ingest.export(request);
        if (result.rejected.length > 0) log.info("otlp.spans_rejected", { rejected: result.rejected.length, of: result.spans, first: result.rejected[0]!.reason });
        return send(res, 200, format, encodeResponse(format, result.rejected, result.spans));
      } catch (error) {
        if (isDatabaseUnavailable(error)) {
          log.warn("otlp.export_unavailable", { error: (error as Error).message });
          return send(res, 503, format, encodeStatus(format, RPC_CODES.unavailable, "The database is unavailable; retry shortly"), { "retry-after": "1" });
        }
        log.error("otlp.export_failed", { error });
        return send(res, 500, format, encodeStatus(format, RPC_CODES.internal, "Unexpected error."));
      }
    },
  };
}
