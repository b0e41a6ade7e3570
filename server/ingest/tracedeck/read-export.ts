/**
 * Reading a JSON Lines export (docs/export-format.md). A file holds one chat, or several exports
 * one after another (each from its header to its end line: a section). The import reads a file
 * twice: validate() checks every line of every section with the format's schemas and the rules
 * across lines (order, unique ids, the head's revision, the end line's counts) and takes each
 * section's content fingerprint, holding nothing but ids; sectionRecords() then reads a valid
 * section again, a record at a time, for the writes.
 */
import type { z } from "zod";
import { ContentFingerprint } from "../../export/fingerprint.js";
import {
  type ChatRecord,
  contentRecord,
  type ContentRecord,
  endRecord,
  EXPORT_TYPE,
  EXPORT_VERSION,
  type ExportCounts,
  headerRecord,
  RECORD_ORDER,
  SINGLE_RECORDS,
} from "./format.js";
import { type Line, LineTooLongError, readLines } from "./lines.js";

/** The longest line read: a snapshot state of the largest SNAPSHOT_STATE_MAX_BYTES allowed, and room. */
export const MAX_LINE_BYTES = 256 * 2 ** 20;

export interface Section {
  /** The header's line: where sectionRecords() starts. */
  start: { offset: number; number: number };
  /** The end line's number, or the last line read when the section is broken. */
  lastLine: number;
  /** From the header, or the chat line; null when the header itself was unreadable. */
  chatId: string | null;
  chat: ChatRecord | null;
  counts: ExportCounts | null;
  fingerprint: string | null;
  /** The first problem found, with its line: the section is not imported. */
  problem: { line: number; message: string } | null;
}

/** An issue's path and message, as the services word them: "tokens.input: must not be negative". */
function issueText(error: z.ZodError): string {
  const issue = error.issues[0]!;
  const path = issue.path.filter((p) => typeof p !== "symbol").join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** The line's JSON object and its type, or why it is not one. */
function parseLine(line: Line): { value: Record<string, unknown>; type: string } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(line.text);
  } catch (error) {
    return { problem: `not JSON (${(error as Error).message})` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { problem: "not a JSON object" };
  const type = (value as { type?: unknown }).type;
  if (typeof type !== "string") return { problem: 'has no "type"' };
  return { value: value as Record<string, unknown>, type };
}

const isBlank = (text: string) => text.trim() === "";

/** What validate() keeps of an open section: ids and counts, never the records. */
class SectionCheck {
  readonly section: Section;
  private rank = -1;
  private readonly seen = new Set<string>();
  private readonly ids = new Set<string>();
  private readonly callIds = new Set<string>();
  private readonly turns = { revisions: new Set<number>(), agent: new Set<number>() };
  private readonly revisionTurns = new Map<string, number>();
  private readonly stepKeys = new Set<string>();
  private head: { revisionId: string; turn: number; line: number } | null = null;
  private readonly fingerprint = new ContentFingerprint();
  private readonly counted: ExportCounts = { traces: 0, modelSteps: 0, snapshotRevisions: 0, agentTurns: 0, agentMessages: 0 };

  constructor(line: Line, chatId: string | null) {
    this.section = { start: { offset: line.offset, number: line.number }, lastLine: line.number, chatId, chat: null, counts: null, fingerprint: null, problem: null };
  }

  fail(line: number, message: string): void {
    this.section.problem ??= { line, message };
  }

  /** Checks one content record; returns a problem or undefined. */
  add(record: ContentRecord, line: number): string | undefined {
    const rank = RECORD_ORDER.indexOf(record.type);
    if (this.rank === -1 && record.type !== "chat") return 'the chat line ({"type":"chat",…}) must follow the header';
    if (rank < this.rank) return `a ${record.type} line must come before the ${RECORD_ORDER[this.rank]} lines`;
    if (SINGLE_RECORDS.has(record.type) && this.seen.has(record.type)) return `a second ${record.type} line: a chat has one`;
    this.rank = rank;
    this.seen.add(record.type);
    const unique = (id: string) => {
      if (this.ids.has(id)) return `id ${id} is used twice`;
      this.ids.add(id);
      return undefined;
    };
    switch (record.type) {
      case "chat":
        if (this.section.chatId !== null && record.id !== this.section.chatId) return `the chat's id ${record.id} is not the header's chatId ${this.section.chatId}`;
        this.section.chat = record;
        this.section.chatId = record.id;
        break;
      case "agent_turn":
        if (this.turns.agent.has(record.turnNumber)) return `agent turn ${record.turnNumber} is given twice`;
        this.turns.agent.add(record.turnNumber);
        this.counted.agentTurns++;
        return unique(record.id);
      case "agent_message":
        this.counted.agentMessages++;
        return unique(record.id);
      case "model_step":
        if (this.stepKeys.has(record.stepKey)) return `model step ${JSON.stringify(record.stepKey)} is given twice`;
        this.stepKeys.add(record.stepKey);
        this.counted.modelSteps++;
        break;
      case "trace":
        if (record.toolCallId !== null) {
          if (this.callIds.has(record.toolCallId)) return `tool call id ${JSON.stringify(record.toolCallId)} is used by two traces`;
          this.callIds.add(record.toolCallId);
        }
        if (record.finishedAt !== null && record.status === "running") return "a running trace has no finishedAt";
        this.counted.traces++;
        return unique(record.id);
      case "snapshot_revision":
        if (this.turns.revisions.has(record.turn)) return `turn ${record.turn} has two revisions`;
        this.turns.revisions.add(record.turn);
        this.revisionTurns.set(record.id, record.turn);
        this.counted.snapshotRevisions++;
        return unique(record.id);
      case "snapshot_head":
        this.head = { revisionId: record.currentRevisionId, turn: record.turn, line };
        break;
    }
    return undefined;
  }

  addFingerprint(record: ContentRecord): void {
    this.fingerprint.add(record);
  }

  /** At the end line: the checks that need the whole section. */
  close(counts: ExportCounts, line: number): void {
    this.section.lastLine = line;
    if (this.section.problem) return;
    if (!this.section.chat) return this.fail(line, "the export has no chat line");
    if (this.head) {
      const turn = this.revisionTurns.get(this.head.revisionId);
      if (turn === undefined) return this.fail(this.head.line, `the head's revision ${this.head.revisionId} is not among the chat's revisions`);
      if (turn !== this.head.turn) return this.fail(this.head.line, `the head's turn ${this.head.turn} is not its revision's turn ${turn}`);
    } else if (this.revisionTurns.size > 0) {
      return this.fail(line, "the chat has revisions but no snapshot_head line");
    }
    for (const key of Object.keys(counts) as (keyof ExportCounts)[]) {
      if (counts[key] !== this.counted[key]) return this.fail(line, `the end line counts ${counts[key]} ${key}, but the export holds ${this.counted[key]}: lines are missing or added`);
    }
    this.section.counts = counts;
    this.section.fingerprint = this.fingerprint.value;
  }
}

export interface ValidatedFile {
  sections: Section[];
  /** Problems outside any section: lines before the first header, an unreadable file. */
  problems: { line: number; message: string }[];
}

/** Reads the file once and checks it; no section with a problem is written. */
export async function validateExport(file: string, options: { maxLineBytes?: number } = {}): Promise<ValidatedFile> {
  const sections: Section[] = [];
  const problems: ValidatedFile["problems"] = [];
  let open: SectionCheck | null = null;
  let last = 0;
  const cutShort = (check: SectionCheck, line: number) => {
    check.section.lastLine = line;
    check.fail(line, `the export ends at line ${line} without its end line ({"type":"end",…}): the file is cut short`);
  };
  try {
    for await (const line of readLines(file, { maxBytes: options.maxLineBytes ?? MAX_LINE_BYTES })) {
      last = line.number;
      if (isBlank(line.text)) continue;
      const parsed = parseLine(line);
      if ("type" in parsed && parsed.type === EXPORT_TYPE) {
        if (open) cutShort(open, line.number - 1);
        const header = headerRecord.safeParse(parsed.value);
        open = new SectionCheck(line, header.success ? header.data.chatId : null);
        sections.push(open.section);
        if (!header.success) open.fail(line.number, `the header: ${issueText(header.error)}`);
        else if (header.data.version !== EXPORT_VERSION) open.fail(line.number, `the export's version is ${header.data.version}; this Tracedeck reads version ${EXPORT_VERSION}`);
        continue;
      }
      if (!open) {
        if (problems.length === 0) problems.push({ line: line.number, message: `expected an export's header line ({"type":"${EXPORT_TYPE}",…})` });
        continue;
      }
      const check: SectionCheck = open;
      if (check.section.problem) {
        if ("type" in parsed && parsed.type === "end") open = null; // the broken section ends here
        continue;
      }
      if (!("type" in parsed)) {
        check.fail(line.number, parsed.problem);
        continue;
      }
      if (parsed.type === "end") {
        const end = endRecord.safeParse(parsed.value);
        if (end.success) check.close(end.data.counts, line.number);
        else check.fail(line.number, `the end line: ${issueText(end.error)}`);
        open = null;
        continue;
      }
      const record = contentRecord.safeParse(parsed.value);
      if (!record.success) {
        check.fail(line.number, record.error.issues[0]?.code === "invalid_union" ? `unknown line type ${JSON.stringify(parsed.type)}` : `${parsed.type}: ${issueText(record.error)}`);
        continue;
      }
      const problem = check.add(record.data, line.number);
      if (problem) check.fail(line.number, problem);
      else check.addFingerprint(record.data);
    }
  } catch (error) {
    if (!(error instanceof LineTooLongError)) throw error;
    if (open) open.fail(error.lineNumber, `the line is longer than ${error.maxBytes} bytes`);
    else problems.push({ line: error.lineNumber, message: `the line is longer than ${error.maxBytes} bytes` });
    return { sections, problems };
  }
  if (open) cutShort(open, last);
  if (sections.length === 0 && problems.length === 0) problems.push({ line: 0, message: "the file is empty" });
  return { sections, problems };
}

/** The file changed between the check and the writes: the writes are rolled back. */
export class ExportChangedError extends Error {
  override name = "ExportChangedError";
}

/**
 * A valid section's content records, read again from its header (the chat's record first). Each
 * line is parsed with the same schemas, and the fingerprint is taken again: a file changed since
 * validate() throws ExportChangedError before the last record, so the caller's transaction rolls back.
 */
export async function* sectionRecords(file: string, section: Section, options: { maxLineBytes?: number } = {}): AsyncGenerator<ContentRecord> {
  const fingerprint = new ContentFingerprint();
  const changed = (line: number, what: string) => new ExportChangedError(`line ${line} changed since the file was checked (${what}): run the import again`);
  let first = true;
  for await (const line of readLines(file, { maxBytes: options.maxLineBytes ?? MAX_LINE_BYTES, start: section.start })) {
    if (first) {
      first = false;
      continue; // the header
    }
    if (isBlank(line.text)) continue;
    const parsed = parseLine(line);
    if (!("type" in parsed)) throw changed(line.number, parsed.problem);
    if (parsed.type === "end") {
      if (fingerprint.value !== section.fingerprint) throw changed(line.number, "its content differs");
      return;
    }
    const record = contentRecord.safeParse(parsed.value);
    if (!record.success) throw changed(line.number, issueText(record.error));
    fingerprint.add(record.data);
    yield record.data;
  }
  throw changed(section.lastLine, "the end line is gone");
}
