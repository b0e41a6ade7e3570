/**
 * npm run import -- claude-code <file.jsonl | folder> [more paths]: imports Claude Code transcripts
 * into the configured database (DATABASE_URL, else the embedded PGlite in DATA_DIR), as chats with
 * their traces, token usage and turns. Safe to repeat: what is already there is skipped.
 *
 * npm run import -- tracedeck <export.jsonl> [more files]: imports chats exported as JSON Lines
 * (GET /api/chats/:id/export), with their ids. Safe to repeat: a chat already there is skipped.
 *
 * Exit codes: 0 done; 1 a path or file could not be read (the others were imported), a chat of an
 * export was broken or refused (the others were imported), or the database could not be opened;
 * 2 a usage error.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { ConfigError, limitsFrom, loadConfig } from "../server/config.js";
import type { Database } from "../server/db/client.js";
import { DataDirLockedError } from "../server/db/data-dir-lock.js";
import type { ImportProgress, ImportSummary } from "../server/ingest/claude-code/import.js";
import type { ChatImportResult } from "../server/ingest/tracedeck/import.js";
import { listTranscriptFiles, TranscriptRefusedError } from "../server/ingest/claude-code/transcript-file.js";
import { createLogger } from "../server/logger.js";
import { createStyle, wantsColor } from "./lib/format.js";

const IMPORT_HELP = `Usage: npm run import -- claude-code <file.jsonl | folder> [more paths]
       npm run import -- tracedeck <export.jsonl> [more files]

claude-code: imports Claude Code transcripts (~/.claude/projects/<project>/<session>.jsonl and
their subagents' transcripts) into Tracedeck: one chat per session, a trace per finished tool
call, each model step's token usage, and a snapshot per finished turn. Folders are searched
recursively for *.jsonl files. Importing again adds only what is new.

tracedeck: imports chats exported from Tracedeck as JSON Lines (the chat view's Export, or
GET /api/chats/<id>/export?format=jsonl), with the same ids, traces, tokens, turns and
snapshot revisions; the event log is rebuilt. A chat already there is skipped; a chat whose id
is taken by other content, or with a broken line, is refused whole (its line is named).

The database is the server's: DATABASE_URL, else the embedded PGlite in DATA_DIR (default
./data). PGlite allows one process at a time: stop a server running on DATA_DIR first.

Options:
  -h, --help   show this help

Examples:
  npm run import -- claude-code ~/.claude/projects
  npm run import -- claude-code ~/.claude/projects/-home-me-app/0b1c….jsonl
  npm run import -- tracedeck tracedeck-chat-0192….jsonl`;

const SOURCES = ["claude-code", "tracedeck"];

class UsageError extends Error {}

function parseArgs(argv: string[]): { help: true } | { help: false; source: "claude-code" | "tracedeck"; paths: string[] } {
  const positional: string[] = [];
  let rest = false;
  for (const arg of argv) {
    if (!rest && arg === "--") rest = true;
    else if (!rest && (arg === "-h" || arg === "--help")) return { help: true };
    else if (!rest && arg.startsWith("-") && arg !== "-") throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  const [source, ...paths] = positional;
  if (source === undefined) throw new UsageError("name the source (claude-code or tracedeck) and the files to import");
  if (!SOURCES.includes(source)) throw new UsageError(`unknown source "${source}": the sources are claude-code and tracedeck`);
  if (paths.length === 0) throw new UsageError(source === "tracedeck" ? "give at least one export file" : "give at least one transcript file or folder");
  return { help: false, source: source as "claude-code" | "tracedeck", paths };
}

const n = (value: number) => value.toLocaleString("en-US");
const plural = (count: number, one: string, many = `${one}s`) => `${n(count)} ${count === 1 ? one : many}`;

/** The path as the user would recognise it: relative to the working folder when under it. */
function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file;
}

function summaryLines(s: ImportSummary): string[] {
  const lines = [
    `Imported ${plural(s.files, "file")} (${plural(s.sessions, "session")}): ${plural(s.chats.created + s.chats.updated, "chat")} (${n(s.chats.created)} created, ${n(s.chats.updated)} updated), +${plural(s.traces, "trace")}, +${plural(s.turns, "turn")}`,
    `Tokens: +${n(s.tokens.input)} input, +${n(s.tokens.output)} output, +${n(s.tokens.cacheRead)} cache read, +${n(s.tokens.cacheWrite)} cache write`,
  ];
  const k = s.skipped;
  const skipped = [
    k.calls && `${plural(k.calls, "call")} already recorded`,
    k.unanswered && `${plural(k.unanswered, "call")} without a result yet`,
    k.turns && `${plural(k.turns, "turn")} already saved`,
    k.openTurns && `${plural(k.openTurns, "open turn")}`,
    k.badLines && `${plural(k.badLines, "unreadable line")}`,
    k.files && `${plural(k.files, "unreadable file")}`,
  ].filter(Boolean);
  if (skipped.length > 0) lines.push(`Skipped: ${skipped.join(", ")}`);
  return lines;
}

/** Why a path given to the tracedeck source cannot be read as an export file, or undefined. */
async function exportFileProblem(given: string): Promise<string | undefined> {
  try {
    const stats = await stat(given);
    if (stats.isDirectory()) return "a folder: give the export file itself";
    if (!stats.isFile()) return "not a regular file";
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "no such file";
    return (error as Error).message;
  }
}

/** One line per chat of an export: what became of it. */
function chatLine(r: ChatImportResult, style: ReturnType<typeof createStyle>): string {
  const name = `chat ${r.chatId ?? "?"}${r.title ? `  ${JSON.stringify(r.title)}` : ""}`;
  if (r.status === "imported" && r.counts) {
    const c = r.counts;
    return `${name}  imported: +${plural(c.traces, "trace")}, +${plural(c.modelSteps, "model step")}, +${plural(c.snapshotRevisions, "snapshot revision")}, +${plural(c.agentTurns, "agent turn")}, ${plural(r.events ?? 0, "event")}`;
  }
  if (r.status === "already-there") return `${name}  already there`;
  return `${name}  ${style.red(r.status === "broken" ? "broken: not imported" : "refused")}`;
}

function tracedeckSummary(results: ChatImportResult[], files: number): string {
  const count = (status: ChatImportResult["status"]) => results.filter((r) => r.status === status).length;
  const imported = results.filter((r) => r.status === "imported");
  const traces = imported.reduce((sum, r) => sum + (r.counts?.traces ?? 0), 0);
  const revisions = imported.reduce((sum, r) => sum + (r.counts?.snapshotRevisions ?? 0), 0);
  return (
    `Read ${plural(files, "file")}: ${plural(results.length, "chat")} (${n(count("imported"))} imported, ${n(count("already-there"))} already there, ` +
    `${n(count("refused"))} refused, ${n(count("broken"))} broken), +${plural(traces, "trace")}, +${plural(revisions, "snapshot revision")}`
  );
}

function lockedMessage(dataDir: string, error: Error): string {
  const pid = /\(pid (\d+)\)/.exec(error.message)?.[1];
  return (
    `a Tracedeck server is running on this data folder (${path.resolve(dataDir)}${pid ? `, pid ${pid}` : ""}), and the embedded PGlite allows one process at a time.\n` +
    `Stop the server, run the import, then start the server again. ` +
    `(Or run the server on PostgreSQL with DATABASE_URL: there the import and the server share the database.)`
  );
}

async function main(): Promise<number> {
  process.exitCode = 1;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
  const style = createStyle(wantsColor(process.stdout));
  const errStyle = createStyle(wantsColor(process.stderr));
  const fail = (message: string) => process.stderr.write(`${errStyle.red("error:")} ${message}\n`);

  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    fail(error.message);
    process.stderr.write(`\n${IMPORT_HELP}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${IMPORT_HELP}\n`);
    return 0;
  }

  let status = 0;
  const files: string[] = [];
  for (const given of args.paths) {
    if (args.source === "tracedeck") {
      const why = await exportFileProblem(given);
      if (why) {
        fail(`${given}: ${why}`);
        status = 1;
      } else files.push(path.resolve(given));
      continue;
    }
    try {
      const found = await listTranscriptFiles(given);
      if (found.length === 0) process.stderr.write(`${errStyle.yellow("note:")} no *.jsonl files in ${given}\n`);
      files.push(...found);
    } catch (error) {
      if (!(error instanceof TranscriptRefusedError)) throw error;
      const why =
        error.reason === "not_found" ? "no such file or folder" : error.reason === "not_jsonl" ? "not a .jsonl file" : error.reason === "not_regular" ? "not a file or folder" : error.message;
      fail(`${given}: ${why}`);
      status = 1;
    }
  }
  const unique = [...new Set(files)];
  if (unique.length === 0) {
    process.stdout.write("Nothing to import.\n");
    return status;
  }

  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    fail(error.message);
    return 1;
  }
  // Loaded once the arguments are known: usage errors and --help answer without loading the database's modules.
  const [{ openDatabase }, { DatabaseUnreachableError }, { MigrationError }, { prepareDatabase }, { createEventBus }, { importTranscripts }, { importExportFile }, { createServices }] =
    await Promise.all([
      import("../server/db/client.js"),
      import("../server/db/connect-with-retry.js"),
      import("../server/db/migrate.js"),
      import("../server/db/prepare.js"),
      import("../server/events/pubsub.js"),
      import("../server/ingest/claude-code/import.js"),
      import("../server/ingest/tracedeck/import.js"),
      import("../server/services/index.js"),
    ]);
  // Migrations and the services log as the server does, but only warnings unless LOG_LEVEL says otherwise.
  const log = createLogger(process.env.LOG_LEVEL?.trim() ? config.LOG_LEVEL : "warn");
  let db: Database | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\nInterrupted (${signal}): what was imported so far stays; run the import again to finish.\n`);
    void (db?.close() ?? Promise.resolve()).catch(() => {}).finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, statementTimeoutMs: config.STATEMENT_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      fail(lockedMessage(config.DATA_DIR, error));
      return 1;
    }
    fail(`could not open the database: ${(error as Error).message}`);
    return 1;
  }
  const opened = db;
  try {
    await prepareDatabase(opened, config, log);
    const services = createServices({ prisma: opened.prisma, bus: createEventBus(), limits: limitsFrom(config), log });
    const where = opened.kind === "pglite" ? `embedded PGlite in ${path.resolve(config.DATA_DIR)}` : "PostgreSQL";
    if (args.source === "tracedeck") {
      process.stdout.write(`Importing ${plural(unique.length, "Tracedeck export")} into ${where}\n`);
      const results: ChatImportResult[] = [];
      for (const file of unique) {
        try {
          await importExportFile({ services, prisma: opened.prisma }, file, (result) => {
            results.push(result);
            process.stdout.write(`${chatLine(result, style)}\n`);
            if (result.status === "broken") fail(`${shown(file)}${result.line ? ` line ${result.line}` : ""}: ${result.message}${result.chatId ? ` (nothing of chat ${result.chatId} was written)` : ""}`);
            if (result.status === "refused") fail(`${shown(file)}: ${result.message}`);
          });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (!code || !["ENOENT", "EACCES", "EISDIR", "EPERM"].includes(code)) throw error;
          fail(`${shown(file)}: ${(error as Error).message}`);
          status = 1;
        }
      }
      process.stdout.write(`${tracedeckSummary(results, unique.length)}\n`);
      return results.some((r) => r.status === "broken" || r.status === "refused") ? 1 : status;
    }
    process.stdout.write(`Importing ${plural(unique.length, "Claude Code transcript")} into ${where}\n`);

    const tty = process.stdout.isTTY === true;
    let pending = false; // a progress line on a TTY waiting to be overwritten
    const width = String(unique.length).length;
    const onProgress = (p: ImportProgress) => {
      const counter = `file ${String(p.index).padStart(width)}/${p.total}  `;
      const tail = p.error ? `  error: ${p.error}` : `  +${plural(p.traces, "trace")}  +${plural(p.turns, "turn")}`;
      let name = shown(p.file);
      // On a terminal a line rewritten in place must not wrap: a long path keeps its end.
      const room = tty && process.stdout.columns ? process.stdout.columns - 1 - counter.length - tail.length : Number.POSITIVE_INFINITY;
      if (name.length > room) name = room > 1 ? `…${name.slice(-(room - 1))}` : "…";
      const line = `${counter}${name}${p.error ? `  ${style.red(tail.trimStart())}` : tail}`;
      if (tty) {
        process.stdout.write(`\r\u001b[2K${line}`);
        pending = !p.error && p.traces === 0 && p.turns === 0;
        if (!pending) process.stdout.write("\n");
      } else process.stdout.write(`${line}\n`);
    };
    const summary = await importTranscripts({ services, prisma: opened.prisma, limits: limitsFrom(config) }, unique, onProgress);
    if (tty && pending) process.stdout.write("\n");
    process.stdout.write(`${summaryLines(summary).join("\n")}\n`);
    if (summary.errors.length > 0) {
      for (const e of summary.errors) fail(`${shown(e.file)}: ${e.message}`);
      status = 1;
    }
    return status;
  } catch (error) {
    const known = [MigrationError, DatabaseUnreachableError].some((kind) => error instanceof kind);
    fail(known ? (error as Error).message : `the import failed: ${(error as Error).name}: ${(error as Error).message}`);
    if (!known && process.env.LOG_LEVEL === "debug") process.stderr.write(`${(error as Error).stack}\n`);
    return 1;
  } finally {
    await opened.close().catch(() => {});
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: ${(error as Error).stack ?? error}\n`);
    process.exitCode = 1;
  },
);
