/**
 * `npm run import -- tracedeck <file>`: chats exported as JSON Lines (GET /api/chats/:id/export),
 * written back with the same ids. Each chat of a file is on its own:
 * - a broken line (not JSON, not the format, out of order, a count that does not add up, a file
 *   cut short) is reported with its line number, and nothing of that chat is written;
 * - a chat the database already holds with the same content is "already there": nothing written;
 * - a chat whose id the database holds with other content is refused, nothing written;
 * - otherwise the chat service writes it whole (services/chat-import.ts).
 */
import type { PrismaClient } from "../../db/generated/prisma/client.js";
import { ConflictError } from "../../errors.js";
import { fingerprintOf } from "../../export/fingerprint.js";
import { readChatRecords } from "../../export/records.js";
import type { Services } from "../../services/index.js";
import type { ExportCounts } from "./format.js";
import { ExportChangedError, type Section, sectionRecords, validateExport } from "./read-export.js";

export interface ChatImportResult {
  chatId: string | null;
  title: string | null;
  status: "imported" | "already-there" | "refused" | "broken";
  /** Why a chat was refused or broken. */
  message?: string;
  /** The line of a broken chat's first problem. */
  line?: number;
  counts?: ExportCounts;
  /** Events rebuilt for an imported chat. */
  events?: number;
}

export interface ImportTarget {
  services: Services;
  prisma: PrismaClient;
}

/** Whether the stored chat is the section's: the same content fingerprint. */
async function sameContent(prisma: PrismaClient, section: Section): Promise<boolean> {
  const stored = await readChatRecords(prisma, section.chatId!);
  return stored !== null && (await fingerprintOf(stored.records)) === section.fingerprint;
}

const differs = (chatId: string) =>
  `chat ${chatId} already exists in this database with different content: nothing of it was written (delete that chat first to replace it)`;

async function importSection(target: ImportTarget, file: string, section: Section): Promise<ChatImportResult> {
  const base = { chatId: section.chatId, title: section.chat?.title ?? null };
  if (section.problem || !section.chat) {
    const problem = section.problem ?? { line: section.lastLine, message: "the export has no chat line" };
    return { ...base, status: "broken", line: problem.line, message: problem.message };
  }
  const counts = section.counts ?? undefined;
  if (await target.prisma.chat.findUnique({ where: { id: section.chat.id }, select: { id: true } })) {
    return (await sameContent(target.prisma, section)) ? { ...base, status: "already-there", counts } : { ...base, status: "refused", message: differs(section.chat.id) };
  }
  try {
    const imported = await target.services.chatImport.importChat(sectionRecords(file, section));
    return { ...base, status: "imported", counts: imported.counts, events: imported.events };
  } catch (error) {
    if (error instanceof ExportChangedError) return { ...base, status: "broken", message: error.message };
    if (!(error instanceof ConflictError)) throw error;
    // Written meanwhile by another import: the same chat, or another one under its id.
    if (error.entity === "Chat") {
      return (await sameContent(target.prisma, section)) ? { ...base, status: "already-there", counts } : { ...base, status: "refused", message: differs(section.chat.id) };
    }
    return { ...base, status: "refused", message: `${error.message}: nothing of chat ${section.chat.id} was written` };
  }
}

/**
 * Imports every chat of an export file; a file that cannot be read throws (ENOENT, EACCES…). A
 * database error ends the import: the chat under way is rolled back, those before it stay.
 */
export async function importExportFile(target: ImportTarget, file: string, onChat?: (result: ChatImportResult) => void): Promise<ChatImportResult[]> {
  const checked = await validateExport(file);
  const results: ChatImportResult[] = checked.problems.map((p) => ({ chatId: null, title: null, status: "broken", line: p.line, message: p.message }));
  for (const result of results) onChat?.(result);
  for (const section of checked.sections) {
    const result = await importSection(target, file, section);
    results.push(result);
    onChat?.(result);
  }
  return results;
}
