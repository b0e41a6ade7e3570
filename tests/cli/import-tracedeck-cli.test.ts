// `npm run import -- tracedeck <export.jsonl>` (scripts/import.ts) as a real child process on its
// own PGlite data folder: usage errors, a missing file, a successful import (the rows and the
// rebuilt event log read back from the folder), a second run that adds nothing, and a broken line
// named with its number while nothing of that chat is written.
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { openDatabase } from "../../server/db/client.js";
import { writeJsonlExport } from "../../server/export/jsonl.js";
import { readChatRecords } from "../../server/export/records.js";
import { createTestDatabase } from "../helpers/db.js";
import { createServiceHarness } from "../helpers/services.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
/** Arrival, not speed: tsx start-up and PGlite on a shared two-core machine. */
const CLI_TIMEOUT_MS = 120_000;

let work: string;
let exportFile: string;
let exportLines: string[];
let chatId: string;
let sourceEvents: number;

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/import.ts", ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", DATABASE_URL: "", LOG_LEVEL: "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the CLI did not exit within ${CLI_TIMEOUT_MS} ms:\n${stdout}\n${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A migrated data folder of its own (a copy of the run's template: no initdb per test). */
function dataDir(name: string): string {
  const dir = join(work, name);
  cpSync(inject("pgliteTemplateDir"), dir, { recursive: true });
  return dir;
}

/** What the data folder holds, read after the CLI has exited (PGlite admits one process). */
async function stored(dir: string) {
  const db = await openDatabase({ dataDir: dir });
  try {
    return {
      chats: await db.prisma.chat.findMany({ select: { id: true, title: true, traceCount: true, errorCount: true, eventSeq: true } }),
      traces: await db.prisma.toolTrace.count(),
      revisions: await db.prisma.agentSnapshotRevision.count(),
      seqs: (await db.prisma.chatEvent.findMany({ orderBy: { seq: "asc" }, select: { seq: true } })).map((e) => e.seq),
    };
  } finally {
    await db.close();
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "tracedeck-import-tracedeck-cli-"));
  // The export is made in this process, from a chat recorded through the services.
  const source = await createTestDatabase();
  const { services, published } = createServiceHarness(source);
  try {
    const chat = await services.chats.create({ title: "exported chat" });
    chatId = chat.id;
    await services.traces.recordBatch(
      Array.from({ length: 12 }, (_, i) => ({
        chatId,
        toolName: i % 4 === 0 ? "run_command" : "read_file",
        toolCallId: `call_${i}`,
        messageId: `msg_${Math.floor(i / 2)}`,
        ...(i % 4 === 0 ? { error: "exit 1" } : { output: `ok ${i}` }),
        tokens: { input: 100, output: 10, cacheRead: 1000 },
      })),
    );
    await services.snapshots.save({ chatId, state: { turn: 1 } });
    await services.snapshots.save({ chatId, state: { turn: 2 } });
    await services.snapshots.restore({ chatId, turn: 1 });
    sourceEvents = (await source.prisma.chat.findUniqueOrThrow({ where: { id: chatId } })).eventSeq;
    let text = "";
    await writeJsonlExport((await readChatRecords(source.prisma, chatId))!, { write: async (s) => void (text += s), end: async () => {} }, { generator: "test" });
    exportLines = text.trimEnd().split("\n");
    exportFile = join(work, "chat.jsonl");
    writeFileSync(exportFile, text);
  } finally {
    published.stop();
    await source.destroy();
  }
}, 120_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm run import -- tracedeck", () => {
  test("imports an export: a line for the chat, the summary, exit 0; a second run says already there", async () => {
    const data = dataDir("data-import");
    const run = await runCli(["tracedeck", exportFile], { DATA_DIR: data });
    expect(run.stderr).toBe("");
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout.trimEnd().split("\n")).toEqual([
      `Importing 1 Tracedeck export into embedded PGlite in ${data}`,
      `chat ${chatId}  "exported chat"  imported: +12 traces, +6 model steps, +2 snapshot revisions, +0 agent turns, ${sourceEvents} events`,
      "Read 1 file: 1 chat (1 imported, 0 already there, 0 refused, 0 broken), +12 traces, +2 snapshot revisions",
    ]);
    const after = await stored(data);
    expect(after.chats).toEqual([{ id: chatId, title: "exported chat", traceCount: 12, errorCount: 3, eventSeq: sourceEvents }]);
    expect(after.traces).toBe(12);
    expect(after.revisions).toBe(2);
    expect(after.seqs).toEqual(Array.from({ length: sourceEvents }, (_, i) => i + 1));

    const again = await runCli(["tracedeck", exportFile], { DATA_DIR: data });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain(`chat ${chatId}  "exported chat"  already there`);
    expect(again.stdout).toContain("Read 1 file: 1 chat (0 imported, 1 already there, 0 refused, 0 broken), +0 traces, +0 snapshot revisions");
    expect(await stored(data)).toEqual(after);
  });

  test("a broken line: its file and line on stderr, nothing of the chat written, exit 1", async () => {
    const data = dataDir("data-broken");
    const lines = [...exportLines];
    const broken = lines.findIndex((l) => JSON.parse(l).type === "trace") + 3;
    lines[broken - 1] = lines[broken - 1]!.replace('"toolName":"read_file"', '"toolName":""').replace('"toolName":"run_command"', '"toolName":""');
    const file = join(work, "broken.jsonl");
    writeFileSync(file, `${lines.join("\n")}\n`);
    const run = await runCli(["tracedeck", file], { DATA_DIR: data });
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stderr).toBe(`error: ${file} line ${broken}: trace: toolName: must not be empty (nothing of chat ${chatId} was written)\n`);
    expect(run.stdout).toContain(`chat ${chatId}  "exported chat"  broken: not imported`);
    expect(run.stdout).toContain("Read 1 file: 1 chat (0 imported, 0 already there, 0 refused, 1 broken)");
    const after = await stored(data);
    expect(after).toEqual({ chats: [], traces: 0, revisions: 0, seqs: [] });
  });

  test("a missing file or a folder: said on stderr, exit 1", async () => {
    const folder = join(work, "a-folder");
    mkdirSync(folder, { recursive: true });
    const run = await runCli(["tracedeck", join(work, "gone.jsonl"), folder], { DATA_DIR: join(work, "never-created") });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: ${join(work, "gone.jsonl")}: no such file`);
    expect(run.stderr).toContain(`error: ${folder}: a folder: give the export file itself`);
    expect(run.stdout).toBe("Nothing to import.\n");
  });

  test("usage errors exit 2 with the usage; --help names both sources", async () => {
    const noFiles = await runCli(["tracedeck"], { DATA_DIR: join(work, "never-created") });
    expect(noFiles.code).toBe(2);
    expect(noFiles.stderr).toContain("error: give at least one export file");
    expect(noFiles.stderr).toContain("npm run import -- tracedeck <export.jsonl> [more files]");

    const source = await runCli(["tracedek", exportFile], { DATA_DIR: join(work, "never-created") });
    expect(source.code).toBe(2);
    expect(source.stderr).toContain('unknown source "tracedek": the sources are claude-code and tracedeck');

    const option = await runCli(["tracedeck", "--force", exportFile], { DATA_DIR: join(work, "never-created") });
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option --force");

    const help = await runCli(["--help"], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: npm run import -- claude-code <file.jsonl | folder> [more paths]");
    expect(help.stdout).toContain("npm run import -- tracedeck <export.jsonl> [more files]");
    expect(help.stderr).toBe("");
  });
});
