/**
 * Reading Claude Code transcripts from disk when the path came from outside: a hook body's
 * `transcript_path` / `agent_transcript_path`, or a file or folder given to the importer.
 *
 * Only a regular `*.jsonl` file whose real path lies under the real projects folder is read (by
 * default `~/.claude/projects`). Everything else is refused with a TranscriptRefusedError before
 * any content is read: a path outside the folder (`..` included), a symlink whose target leaves
 * it, a FIFO, a device, a socket or a directory, a name not ending in .jsonl. The file is opened
 * with O_NOFOLLOW | O_NONBLOCK (a FIFO swapped in can neither follow a link nor block the open),
 * then the open handle must be the same regular file (device and inode) that was checked.
 */
import { constants, type Dirent, type Stats } from "node:fs";
import { lstat, open, readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";

export type TranscriptRefusal =
  /** offset or maxBytes is not a usable number, or the path is not a non-empty string. */
  | "bad_request"
  /** The path is relative: a hook sends absolute paths. */
  | "not_absolute"
  /** The name (given or real) does not end in .jsonl. */
  | "not_jsonl"
  /** The path, or the projects folder, does not exist. */
  | "not_found"
  /** The real path is not under the real projects folder. */
  | "outside"
  /** A directory, FIFO, device or socket. */
  | "not_regular"
  /** What was opened is not the file that was checked (swapped in between). */
  | "changed";

export class TranscriptRefusedError extends Error {
  override name = "TranscriptRefusedError";
  constructor(
    readonly reason: TranscriptRefusal,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TranscriptChunk {
  /** Complete lines only: everything up to the last "\n" read ("" when none is complete yet). */
  text: string;
  /** Where the next read starts: the offset after the returned lines (and after a skipped line). */
  nextOffset: number;
  /** The file's size when read. */
  size: number;
  /** More bytes follow that were not read because of maxBytes: read again from nextOffset. */
  truncated: boolean;
  /** The file was smaller than offset (rewritten): the read started from 0. */
  restarted: boolean;
  /** Bytes of a single line longer than maxBytes, skipped without keeping them (0 normally). */
  skippedBytes: number;
}

export interface ReadTranscriptOptions {
  path: string;
  /** The folder transcripts must lie in (its real path is compared), e.g. ~/.claude/projects. */
  projectsDir: string;
  /** Byte offset to read from (a previous chunk's nextOffset; 0 for the start). */
  offset: number;
  /** At most this many bytes are read into memory. */
  maxBytes: number;
}

const isInside = (root: string, target: string) => {
  const relative = path.relative(root, target);
  return relative !== "" && !relative.startsWith(`..${path.sep}`) && relative !== ".." && !path.isAbsolute(relative);
};

const kind = (s: Stats) =>
  s.isDirectory() ? "a directory" : s.isFIFO() ? "a FIFO" : s.isCharacterDevice() || s.isBlockDevice() ? "a device" : s.isSocket() ? "a socket" : "not a regular file";

async function realProjects(projectsDir: string, shown: string): Promise<string> {
  try {
    return await realpath(projectsDir);
  } catch {
    throw new TranscriptRefusedError("not_found", shown, `the projects folder ${projectsDir} does not exist`);
  }
}

/** The checked real path and its stat: a regular *.jsonl file under the projects folder. */
async function checkedPath(given: string, projectsDir: string): Promise<{ real: string; stats: Stats }> {
  if (typeof given !== "string" || given === "" || given.includes("\0")) {
    throw new TranscriptRefusedError("bad_request", String(given), "the transcript path must be a non-empty string");
  }
  if (!path.isAbsolute(given)) throw new TranscriptRefusedError("not_absolute", given, `the transcript path ${given} is not absolute`);
  if (!given.endsWith(".jsonl")) throw new TranscriptRefusedError("not_jsonl", given, `the transcript path ${given} does not end in .jsonl`);
  const root = await realProjects(projectsDir, given);
  // A path that is outside even before links are resolved is refused without touching it.
  if (!isInside(root, path.resolve(given)) && !isInside(path.resolve(projectsDir), path.resolve(given))) {
    throw new TranscriptRefusedError("outside", given, `the transcript path ${given} is not under ${projectsDir}`);
  }
  let real: string;
  try {
    real = await realpath(given);
  } catch {
    throw new TranscriptRefusedError("not_found", given, `the transcript ${given} does not exist`);
  }
  if (!isInside(root, real)) throw new TranscriptRefusedError("outside", given, `the transcript path ${given} leads outside ${projectsDir}`);
  if (!real.endsWith(".jsonl")) throw new TranscriptRefusedError("not_jsonl", given, `the transcript path ${given} leads to a file not ending in .jsonl`);
  let stats: Stats;
  try {
    stats = await stat(real);
  } catch {
    throw new TranscriptRefusedError("not_found", given, `the transcript ${given} does not exist`);
  }
  if (!stats.isFile()) throw new TranscriptRefusedError("not_regular", given, `the transcript path ${given} is ${kind(stats)}`);
  return { real, stats };
}

const SCAN_BLOCK = 64 * 1024;

/**
 * Reads complete lines of a transcript from `offset`, at most `maxBytes` of them. A line longer
 * than maxBytes is skipped (scanned for its end in blocks, never kept) so the reader cannot stick
 * on it; a last line without its "\n" yet is left for the next read.
 */
export async function readTranscriptChunk(options: ReadTranscriptOptions): Promise<TranscriptChunk> {
  const { path: given, projectsDir, offset, maxBytes } = options;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new TranscriptRefusedError("bad_request", String(given), `offset must be a whole number of at least 0, not ${offset}`);
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new TranscriptRefusedError("bad_request", String(given), `maxBytes must be a whole number of at least 1, not ${maxBytes}`);
  const { real, stats } = await checkedPath(given, projectsDir);

  let handle;
  try {
    handle = await open(real, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new TranscriptRefusedError("not_found", given, `the transcript ${given} does not exist`);
    if (code === "ELOOP") throw new TranscriptRefusedError("changed", given, `the transcript ${given} became a symlink while it was opened`);
    throw error;
  }
  try {
    const opened = await handle.stat();
    if (!opened.isFile() || opened.dev !== stats.dev || opened.ino !== stats.ino) {
      throw new TranscriptRefusedError("changed", given, `the transcript ${given} changed while it was opened`);
    }
    const size = opened.size;
    const restarted = offset > size;
    const start = restarted ? 0 : offset;
    const want = Math.min(maxBytes, size - start);
    const buffer = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await handle.read(buffer, got, want - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const lastNewline = buffer.subarray(0, got).lastIndexOf(0x0a);
    if (lastNewline >= 0) {
      const end = lastNewline + 1;
      return { text: buffer.subarray(0, end).toString("utf8"), nextOffset: start + end, size, truncated: start + got < size, restarted, skippedBytes: 0 };
    }
    if (got < maxBytes || start + got >= size) {
      // An incomplete last line (or nothing new): wait for the rest.
      return { text: "", nextOffset: start, size, truncated: false, restarted, skippedBytes: 0 };
    }
    // One line longer than maxBytes: find its end and skip it.
    const block = Buffer.alloc(SCAN_BLOCK);
    let position = start + got;
    while (position < size) {
      const { bytesRead } = await handle.read(block, 0, Math.min(SCAN_BLOCK, size - position), position);
      if (bytesRead === 0) break;
      const at = block.subarray(0, bytesRead).indexOf(0x0a);
      if (at >= 0) {
        const next = position + at + 1;
        return { text: "", nextOffset: next, size, truncated: next < size, restarted, skippedBytes: next - start };
      }
      position += bytesRead;
    }
    return { text: "", nextOffset: start, size, truncated: false, restarted, skippedBytes: 0 };
  } finally {
    await handle.close();
  }
}

const MAX_DEPTH = 32;

/**
 * The *.jsonl files under a folder, recursively (subagents/ and deeper included), sorted by path,
 * as absolute paths under `dir`. Symlinked folders are not entered; a symlinked file is listed only
 * when its real path is a regular file inside the folder (or inside `projectsDir` when given, which
 * must then hold `dir`). Given a *.jsonl file rather than a folder, lists that file when allowed.
 */
export async function listTranscriptFiles(dir: string, projectsDir?: string): Promise<string[]> {
  const start = path.resolve(dir);
  let rootReal: string;
  try {
    rootReal = await realpath(projectsDir ?? start);
  } catch {
    throw new TranscriptRefusedError("not_found", dir, `${projectsDir ?? dir} does not exist`);
  }
  let startReal: string;
  try {
    startReal = await realpath(start);
  } catch {
    throw new TranscriptRefusedError("not_found", dir, `${dir} does not exist`);
  }
  const allowed = (real: string) => real === rootReal || isInside(rootReal, real);
  if (!allowed(startReal)) throw new TranscriptRefusedError("outside", dir, `${dir} is not under ${projectsDir}`);

  const startStats = await stat(startReal);
  if (startStats.isFile()) {
    if (!start.endsWith(".jsonl") || !startReal.endsWith(".jsonl")) throw new TranscriptRefusedError("not_jsonl", dir, `${dir} does not end in .jsonl`);
    return [start];
  }
  if (!startStats.isDirectory()) throw new TranscriptRefusedError("not_regular", dir, `${dir} is ${kind(startStats)}`);

  const found: string[] = [];
  const walk = async (folder: string, depth: number): Promise<void> => {
    let items: Dirent[];
    try {
      items = await readdir(folder, { withFileTypes: true });
    } catch {
      return; // vanished or unreadable: skipped
    }
    for (const item of items) {
      const full = path.join(folder, item.name);
      if (item.isDirectory()) {
        if (depth < MAX_DEPTH) await walk(full, depth + 1);
      } else if (item.name.endsWith(".jsonl")) {
        if (item.isFile()) found.push(full);
        else if (item.isSymbolicLink()) {
          try {
            const real = await realpath(full);
            if (allowed(real) && real.endsWith(".jsonl") && (await lstat(real)).isFile()) found.push(full);
          } catch {
            // a dangling link: skipped
          }
        }
      }
    }
  };
  await walk(start, 0);
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
