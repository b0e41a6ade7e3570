/** File helpers shared by the file tools: opening a regular file safely, decoding, writing atomically. */
import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { mkdir, open, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { ToolError } from "./tool.js";

/** A file with a NUL byte in its first BINARY_SNIFF_BYTES is treated as binary. */
export const BINARY_SNIFF_BYTES = 8192;

export const looksBinary = (head: Uint8Array) => head.subarray(0, BINARY_SNIFF_BYTES).includes(0);

const errnoCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/**
 * Opens `real` (already resolved inside the workspace) for reading, as a regular file. O_NOFOLLOW
 * refuses a final symlink swapped in since the path was checked; O_NONBLOCK keeps a FIFO from
 * blocking the open (it is then refused as not a regular file). Returns null when nothing is there
 * and `missingOk`; throws ToolError otherwise.
 */
export async function openRegularFile(real: string, display: string, missingOk = false): Promise<{ handle: FileHandle; stat: Stats } | null> {
  let handle: FileHandle;
  try {
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") {
      if (missingOk && code === "ENOENT") return null;
      throw new ToolError("NOT_FOUND", `${display}: no such file`);
    }
    if (code === "ELOOP") throw new ToolError("NOT_A_REGULAR_FILE", `${display}: is a symlink that changed since it was checked; try again`);
    throw error;
  }
  const stat = await handle.stat();
  if (stat.isFile()) return { handle, stat };
  await handle.close();
  if (stat.isDirectory()) throw new ToolError("IS_DIRECTORY", `${display}: is a directory, not a file (use list_files to see what it holds)`);
  throw new ToolError("NOT_A_REGULAR_FILE", `${display}: is not a regular file (a device, a FIFO or a socket)`);
}

/** The whole content of a regular file, or null when there is none (and `missingOk`). */
export async function readRegularFile(real: string, display: string, missingOk = false): Promise<{ bytes: Buffer; mode: number } | null> {
  const opened = await openRegularFile(real, display, missingOk);
  if (opened === null) return null;
  try {
    return { bytes: await opened.handle.readFile(), mode: opened.stat.mode & 0o7777 };
  } finally {
    await opened.handle.close();
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The text, or null when the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Creates the folders up to `dir` (already resolved inside the workspace). */
export async function ensureDirectory(dir: string, display: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOTDIR" || code === "EEXIST") throw new ToolError("NOT_A_DIRECTORY", `${display}: a parent of this path is a file, not a folder`);
    throw error;
  }
}

export interface AtomicWriteOptions {
  /** Permission bits of the new file (those of the file it replaces, to keep them); 0o666 minus the umask when not given. */
  mode?: number;
  /** Runs after the temp file is complete, before the rename (a test seam: throwing aborts the write). */
  beforeRename?: (tempPath: string) => void | Promise<void>;
}

/** The prefix of the temp files writeFileAtomic leaves for an instant next to the file. */
export const TEMP_PREFIX = ".tracedeck-write-";

/**
 * Writes `data` to `file` atomically: into a new temp file in the same folder (so the rename cannot
 * cross file systems), synced, then renamed over `file`. A reader sees the old content or the new,
 * never a part; on any failure the temp file is removed and `file` is left as it was.
 */
export async function writeFileAtomic(file: string, data: Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = path.join(path.dirname(file), `${TEMP_PREFIX}${randomBytes(8).toString("hex")}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, options.mode ?? 0o666);
    await handle.writeFile(data);
    if (options.mode !== undefined) await handle.chmod(options.mode); // the umask may have narrowed it
    await handle.sync();
    await handle.close();
    handle = undefined;
    await options.beforeRename?.(temp);
    await rename(temp, file);
  } catch (error) {
    await handle?.close().catch(() => {});
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
}
