// Reading a Tracedeck JSON Lines export back (npm run import -- tracedeck): a broken line is
// reported with its line number and nothing of that chat is written, whatever is wrong with it
// (not JSON, not the format, out of order, an id twice, counts that do not add up, a file cut
// short); a file of several chats imports the good ones; a Claude Code session's chat keeps its
// source; ids another chat holds, a session another chat reports into, or a file changed during
// the import write nothing. On PGlite, with the services on real databases.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { PrismaClient } from "../../../server/db/generated/prisma/client.js";
import { writeJsonlExport } from "../../../server/export/jsonl.js";
import { readChatRecords } from "../../../server/export/records.js";
import { ExportChangedError, sectionRecords, validateExport } from "../../../server/ingest/tracedeck/read-export.js";
import { importExportFile } from "../../../server/ingest/tracedeck/import.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { createServiceHarness, type ServiceHarness } from "../../helpers/services.js";

let source: TestDatabase;
let target: TestDatabase;
let from: ServiceHarness;
let into: ServiceHarness;
let work: string;
let chatA: string;
let chatB: string;
let sessionChat: string;
/** The export of chat A, line by line (no trailing newline). */
let linesA: string[];
let linesB: string[];
let linesSession: string[];

async function exportLines(prisma: PrismaClient, chatId: string): Promise<string[]> {
  let text = "";
  await writeJsonlExport((await readChatRecords(prisma, chatId))!, { write: async (s) => void (text += s), end: async () => {} }, { generator: "test" });
  return text.trimEnd().split("\n");
}

let fileCounter = 0;
function fileOf(lines: string[]): string {
  const file = join(work, `export-${fileCounter++}.jsonl`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const counts = async (prisma: PrismaClient) => ({
  chats: await prisma.chat.count(),
  traces: await prisma.toolTrace.count(),
  steps: await prisma.modelStep.count(),
  revisions: await prisma.agentSnapshotRevision.count(),
  events: await prisma.chatEvent.count(),
  sessions: await prisma.ingestSession.count(),
});

const importFile = (file: string) => importExportFile({ services: into.services, prisma: target.prisma }, file);

beforeAll(async () => {
  source = await createTestDatabase();
  target = await createTestDatabase();
  from = createServiceHarness(source);
  into = createServiceHarness(target);
  work = mkdtempSync(join(tmpdir(), "tracedeck-import-"));
  const s = from.services;
  chatA = (await s.chats.create({ title: "chat A" })).id;
  await s.traces.recordBatch(
    Array.from({ length: 30 }, (_, i) => ({ chatId: chatA, toolName: `tool_${i % 3}`, toolCallId: `a_${i}`, messageId: `m_${i % 10}`, output: `o${i}`, tokens: { input: 10, output: 1 } })),
  );
  await s.snapshots.save({ chatId: chatA, state: { n: 1 } });
  chatB = (await s.chats.create({ title: "chat B" })).id;
  await s.traces.record({ chatId: chatB, toolName: "ls", toolCallId: "b_1", output: "." });
  const { session } = await s.ingestSessions.open({ source: "claude-code", externalId: "sess-1", title: "Claude Code session", cwd: "/home/me/app" });
  sessionChat = session.chatId;
  await s.traces.record({ chatId: sessionChat, toolName: "Bash", toolCallId: "toolu_1", output: "ok" });
  linesA = await exportLines(source.prisma, chatA);
  linesB = await exportLines(source.prisma, chatB);
  linesSession = await exportLines(source.prisma, sessionChat);
}, 120_000);
afterAll(async () => {
  from?.published.stop();
  into?.published.stop();
  await source?.destroy();
  await target?.destroy();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Chat A's export with line `n` (1-based) replaced, removed (null), or lines inserted before it. */
function edited(n: number, replacement: string | null, lines = linesA): string[] {
  const copy = [...lines];
  if (replacement === null) copy.splice(n - 1, 1);
  else copy[n - 1] = replacement;
  return copy;
}
const lineOf = (type: string, lines = linesA) => lines.findIndex((l) => JSON.parse(l).type === type) + 1;
const traceLine = () => lineOf("trace");
const withField = (n: number, patch: Record<string, unknown>, lines = linesA) => JSON.stringify({ ...JSON.parse(lines[n - 1]!), ...patch });

describe("a broken chat: its first problem with its line number, nothing of it written", () => {
  test.each([
    ["a line that is not JSON", () => edited(traceLine() + 2, '{"type":"trace",'), () => traceLine() + 2, /^not JSON/],
    ["a trace with an empty tool name", () => edited(traceLine(), withField(traceLine(), { toolName: "" })), traceLine, /^trace: toolName: must not be empty$/],
    ["a negative token count", () => edited(traceLine(), withField(traceLine(), { tokens: { input: -1, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 } })), traceLine, /^trace: tokens\.input: must not be negative$/],
    ["a date without a zone", () => edited(traceLine(), withField(traceLine(), { startedAt: "2026-01-01T10:00:00" })), traceLine, /^trace: startedAt: must be an RFC 3339 date-time/],
    ["an unknown line type", () => edited(traceLine(), '{"type":"span","id":1}'), traceLine, /^unknown line type "span"$/],
    ["a line without a type", () => edited(traceLine(), '{"id":1}'), traceLine, /^has no "type"$/],
    ["the same trace id twice", () => edited(traceLine() + 1, withField(traceLine() + 1, { id: JSON.parse(linesA[traceLine() - 1]!).id })), () => traceLine() + 1, /is used twice/],
    ["a tool call id twice", () => edited(traceLine() + 1, withField(traceLine() + 1, { toolCallId: "a_0" })), () => traceLine() + 1, /tool call id "a_0" is used by two traces/],
    ["a step after the traces", () => [...linesA.slice(0, -1), linesA[lineOf("model_step") - 1]!, linesA.at(-1)!], () => linesA.length, /a model_step line must come before the snapshot_head lines/],
    ["a missing trace (the end line's counts)", () => edited(traceLine() + 3, null), () => linesA.length - 1, /the end line counts 30 traces, but the export holds 29/],
    ["a file cut short (no end line)", () => linesA.slice(0, -3), () => linesA.length - 3, /without its end line .*: the file is cut short/],
    ["a newer version", () => edited(1, withField(1, { version: 2 })), () => 1, /version is 2; this Tracedeck reads version 1/],
    ["the header's chat id not the chat's", () => edited(1, withField(1, { chatId: chatB })), () => 2, /is not the header's chatId/],
    ["a head whose revision is not there", () => edited(lineOf("snapshot_head"), withField(lineOf("snapshot_head"), { currentRevisionId: chatB })), () => lineOf("snapshot_head"), /the head's revision .* is not among the chat's revisions/],
  ])("%s", async (_name, lines, line, message) => {
    const before = await counts(target.prisma);
    const results = await importFile(fileOf(lines()));
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ status: "broken", line: line() });
    expect(results[0]!.message).toMatch(message);
    expect(await counts(target.prisma)).toEqual(before);
    expect(await target.prisma.chat.findUnique({ where: { id: chatA } })).toBeNull();
  });

  test("lines before any header, and an empty file", async () => {
    const stray = await importFile(fileOf(['{"type":"trace"}', ...linesB]));
    expect(stray[0]).toMatchObject({ status: "broken", chatId: null, line: 1, message: expect.stringContaining("expected an export's header line") });
    // The export after the stray line is read on its own.
    expect(stray[1]).toMatchObject({ status: "imported", chatId: chatB });
    await target.prisma.chat.delete({ where: { id: chatB } });
    const empty = join(work, "empty.jsonl");
    writeFileSync(empty, "");
    expect(await importFile(empty)).toEqual([{ chatId: null, title: null, status: "broken", line: 0, message: "the file is empty" }]);
  });
});

describe("several chats in one file, sessions and conflicts", () => {
  test("a file of two exports: the broken one is skipped, the other imported", async () => {
    const broken = edited(traceLine(), withField(traceLine(), { status: "finished" }));
    const results = await importFile(fileOf([...broken, ...linesB]));
    expect(results.map((r) => [r.chatId, r.status, r.line ?? null])).toEqual([
      [chatA, "broken", traceLine()],
      [chatB, "imported", null],
    ]);
    expect(await target.prisma.chat.findUnique({ where: { id: chatA } })).toBeNull();
    expect(await target.prisma.toolTrace.count({ where: { chatId: chatB } })).toBe(1);
    // CRLF line ends read the same.
    const crlf = join(work, "crlf.jsonl");
    writeFileSync(crlf, `${linesA.join("\r\n")}\r\n`);
    expect((await importFile(crlf)).map((r) => r.status)).toEqual(["imported"]);
    expect(await target.prisma.toolTrace.count({ where: { chatId: chatA } })).toBe(30);
    expect(await target.prisma.chat.findUniqueOrThrow({ where: { id: chatA } })).toMatchObject({ traceCount: 30, errorCount: 0, runningCount: 0 });
  });

  test("a Claude Code session's chat keeps its session (Chat.source) and the hooks find it", async () => {
    const [result] = await importFile(fileOf(linesSession));
    expect(result).toMatchObject({ status: "imported", chatId: sessionChat });
    const stored = await target.prisma.ingestSession.findUniqueOrThrow({ where: { chatId: sessionChat } });
    expect(stored).toEqual(await source.prisma.ingestSession.findUniqueOrThrow({ where: { chatId: sessionChat } }));
    const reopened = await into.services.ingestSessions.open({ source: "claude-code", externalId: "sess-1", title: "again" });
    expect(reopened).toMatchObject({ created: false, session: { chatId: sessionChat } });
  });

  test("a session another chat reports into: refused, nothing written", async () => {
    // Chat A's content under a new id, claiming the session of the chat imported above.
    const otherId = "0190f000-0000-7000-8000-00000000abcd";
    const session = JSON.parse(linesSession[lineOf("ingest_session", linesSession) - 1]!);
    const lines = linesA.map((l) => l.replaceAll(chatA, otherId));
    lines.splice(2, 0, JSON.stringify({ ...session, id: "0190f000-0000-7000-8000-00000000abce" }));
    // New trace and revision ids, so only the session collides.
    const renumbered = lines.map((l) => {
      const record = JSON.parse(l);
      if (record.type === "trace" || record.type === "snapshot_revision") record.id = record.id.replace(/^.{8}/, "0190ffff");
      if (record.type === "snapshot_head") record.currentRevisionId = record.currentRevisionId.replace(/^.{8}/, "0190ffff");
      return JSON.stringify(record);
    });
    const before = await counts(target.prisma);
    const [result] = await importFile(fileOf(renumbered));
    expect(result).toMatchObject({ status: "refused", chatId: otherId, message: expect.stringContaining("the claude-code session sess-1 already reports into another chat") });
    expect(await counts(target.prisma)).toEqual(before);
  });

  test("trace ids another chat holds: refused, the whole chat rolled back", async () => {
    if (!(await target.prisma.chat.findUnique({ where: { id: chatA } }))) await importFile(fileOf(linesA));
    const otherId = "0190f000-0000-7000-8000-00000000beef";
    const lines = linesA.map((l) => l.replaceAll(chatA, otherId));
    const before = await counts(target.prisma);
    const [result] = await importFile(fileOf(lines));
    expect(result).toMatchObject({ status: "refused", chatId: otherId, message: expect.stringContaining("traces of this chat already exist in the database, under another chat") });
    expect(await counts(target.prisma)).toEqual(before);
    expect(await target.prisma.chat.findUnique({ where: { id: otherId } })).toBeNull();
  });

  test("a file changed between its check and its writes: the writes are rolled back", async () => {
    await target.prisma.chat.delete({ where: { id: chatB } });
    const file = fileOf(linesB);
    const { sections } = await validateExport(file);
    expect(sections[0]!.problem).toBeNull();
    writeFileSync(file, `${edited(lineOf("trace", linesB), withField(lineOf("trace", linesB), { toolOutput: "changed" }), linesB).join("\n")}\n`);
    const before = await counts(target.prisma);
    await expect(into.services.chatImport.importChat(sectionRecords(file, sections[0]!))).rejects.toBeInstanceOf(ExportChangedError);
    expect(await counts(target.prisma)).toEqual(before);
    expect(await target.prisma.chat.findUnique({ where: { id: chatB } })).toBeNull();
  });
});
