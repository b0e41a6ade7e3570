/**
 * The JSON Lines export of a chat (docs/export-format.md): a header line, the chat's records as
 * they are read, a page at a time, and an end line with the counts, so a file cut short is
 * recognised as such by the import.
 */
import { EXPORT_TYPE, EXPORT_VERSION, type ExportCounts, type HeaderRecord } from "../ingest/tracedeck/format.js";
import type { ChatRecords } from "./records.js";
import type { Sink } from "./sink.js";

export const jsonlLine = (record: object) => `${JSON.stringify(record)}\n`;

export async function writeJsonlExport(chat: ChatRecords, sink: Sink, options: { generator: string; now?: Date }): Promise<ExportCounts> {
  const header: HeaderRecord = {
    type: EXPORT_TYPE,
    version: EXPORT_VERSION,
    chatId: chat.chat.id,
    exportedAt: (options.now ?? new Date()).toISOString(),
    generator: options.generator,
  };
  await sink.write(jsonlLine(header));
  for await (const record of chat.records) await sink.write(jsonlLine(record));
  await sink.write(jsonlLine({ type: "end", counts: chat.counts }));
  await sink.end();
  return chat.counts;
}
