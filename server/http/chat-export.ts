import { isDatabaseUnavailable } from "../db/availability.js";
import type { PrismaClient } from "../db/generated/prisma/client.js";
import { ValidationError } from "../errors.js";
import { writeJsonlExport } from "../export/jsonl.js";
import { writeOtlpExport } from "../export/otlp.js";
import { readChatRecords } from "../export/records.js";
import { SinkClosedError, streamSink } from "../export/sink.js";
import { tracedeckVersion } from "../export/version.js";
import type { Logger } from "../logger.js";
import { parseId } from "../schema/ids.js";
import { DATABASE_UNAVAILABLE } from "./database-errors.js";
import { HttpRefusal, sendJson } from "./refusal.js";
import type { ChatResource } from "./rest-traces.js";

const FORMATS = {
  jsonl: { contentType: "application/x-ndjson; charset=utf-8", extension: "jsonl" },
  otlp: { contentType: "application/json; charset=utf-8", extension: "otlp.json" },
} as const;

/**
 * GET /api/chats/:id/export?format=jsonl|otlp: the chat as a download. `jsonl` is Tracedeck's own
 * format (docs/export-format.md), which `npm run import -- tracedeck` reads back; `otlp` is an OTLP
 * JSON ExportTraceServiceRequest with the GenAI conventions' spans. Both are written as the chat
 * is read, a page at a time. An error once the download has started cuts the connection: the JSON
 * Lines file then lacks its end line, and the OTLP document does not parse.
 */
export function chatExportResource(prisma: PrismaClient, log: Logger): ChatResource {
  return {
    name: "export",
    async handle(_req, res, rawId, params) {
      for (const key of new Set(params.keys())) {
        if (key !== "format") throw new HttpRefusal(400, "BAD_USER_INPUT", `Unknown parameter ${JSON.stringify(key)}; the only one is format (jsonl or otlp)`);
      }
      const formats = params.getAll("format");
      const name = formats[0] ?? "jsonl";
      if (formats.length > 1 || !(name in FORMATS)) throw new HttpRefusal(400, "BAD_USER_INPUT", `format must be jsonl or otlp, not ${JSON.stringify(formats.join(","))}`);
      const format = FORMATS[name as keyof typeof FORMATS];
      let chatId: string;
      try {
        chatId = parseId(rawId, "Chat", ["id"]);
      } catch (error) {
        if (error instanceof ValidationError) throw new HttpRefusal(400, "BAD_USER_INPUT", "The chat id must be a Chat's global id or UUID");
        throw error;
      }

      let chat;
      try {
        chat = await readChatRecords(prisma, chatId);
      } catch (error) {
        if (!isDatabaseUnavailable(error)) throw error;
        log.warn("export.unavailable", { error: (error as Error).message });
        return sendJson(res, 503, { errors: [{ message: "The database is unavailable; retry shortly", extensions: { code: DATABASE_UNAVAILABLE } }] }, { "retry-after": "1" });
      }
      if (!chat) return sendJson(res, 404, { errors: [{ message: `No chat has the id ${chatId}`, extensions: { code: "NOT_FOUND" } }] });

      res.writeHead(200, {
        "content-type": format.contentType,
        "content-disposition": `attachment; filename="tracedeck-chat-${chatId}.${format.extension}"`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      });
      const sink = streamSink(res);
      const started = Date.now();
      try {
        if (name === "jsonl") {
          const counts = await writeJsonlExport(chat, sink, { generator: `tracedeck ${tracedeckVersion()}` });
          log.info("export.done", { chatId, format: name, ...counts, ms: Date.now() - started });
        } else {
          const spans = await writeOtlpExport(prisma, chat.chat, sink, { version: tracedeckVersion() });
          log.info("export.done", { chatId, format: name, spans, ms: Date.now() - started });
        }
      } catch (error) {
        if (error instanceof SinkClosedError) {
          log.info("export.reader_gone", { chatId, format: name });
        } else {
          log.error("export.failed", { chatId, format: name, error });
        }
        res.destroy();
      }
    },
  };
}
