/**
 * read_file: a text file of the workspace, or a range of its lines, capped in bytes.
 *
 * Lines are 1-based and inclusive; a line is what follows a newline, so "a\nb\n" has 2 lines.
 * The file is read in chunks (memory stays near the cap however large it is) and scanned to the
 * end to count its lines. Beyond `maxBytes` (default 64 KB) the head of the range is returned,
 * cut before a whole UTF-8 character, with a note of the bytes left out and where to read on.
 * Refused with a ToolError: a missing file, a directory, a non-regular file, a binary file (a NUL
 * byte in its first 8 KB), a startLine past the end.
 */
import { z } from "zod";
import { BINARY_SNIFF_BYTES, looksBinary, openRegularFile } from "./files.js";
import { NO_NUL_PATTERN, NO_NUL_REGEX, ToolError, appendNote, defineTool, groupThousands, resolveToolPath, type JsonSchema } from "./tool.js";

export const DEFAULT_READ_MAX_BYTES = 65_536;
export const MAX_READ_MAX_BYTES = 1_048_576;
const CHUNK_BYTES = 65_536;

export const readFileInputSchema: JsonSchema = {
  type: "object",
  properties: {
    path: { type: "string", minLength: 1, pattern: NO_NUL_PATTERN, description: "The file, relative to the workspace." },
    startLine: { type: "integer", minimum: 1, description: "The first line to return (1-based). Default: 1." },
    endLine: { type: "integer", minimum: 1, description: "The last line to return (1-based, inclusive; at least startLine). Default: the last line." },
    maxBytes: {
      type: "integer",
      minimum: 1,
      maximum: MAX_READ_MAX_BYTES,
      description: `At most this many bytes of text are returned (default ${DEFAULT_READ_MAX_BYTES}); a note says what was left out.`,
    },
  },
  required: ["path"],
  additionalProperties: false,
};

export const readFileZodSchema = z
  .strictObject({
    path: z.string().min(1).regex(NO_NUL_REGEX, "must not contain NUL characters"),
    startLine: z.number().int().min(1).optional(),
    endLine: z.number().int().min(1).optional(),
    maxBytes: z.number().int().min(1).max(MAX_READ_MAX_BYTES).optional(),
  })
  .refine((input) => input.endLine === undefined || input.endLine >= (input.startLine ?? 1), {
    message: "must not be before startLine",
    path: ["endLine"],
  });

export interface ReadFileResult {
  output: string;
  /** Relative to the workspace (symlinks resolved). */
  path: string;
  /** The text returned (without notes). */
  content: string;
  startLine: number;
  /** The last line requested that exists (the cap may show less of it: see truncated). */
  endLine: number;
  totalLines: number;
  /** Whether the byte cap cut the range. */
  truncated: boolean;
  /** Bytes of the range left out by the cap. */
  bytesOmitted: number;
}

const isContinuation = (byte: number | undefined) => byte !== undefined && (byte & 0xc0) === 0x80;

export const readFileTool = defineTool({
  name: "read_file",
  description:
    "Read a text file of the workspace, whole or a range of lines (1-based, inclusive). Output is capped " +
    `(default ${DEFAULT_READ_MAX_BYTES} bytes); when cut, a note says how much was left out and which startLine reads on. ` +
    "Refuses directories (use list_files) and binary files.",
  inputSchema: readFileInputSchema,
  zodSchema: readFileZodSchema,
  async execute(input, ctx): Promise<ReadFileResult> {
    const { real, display } = resolveToolPath(ctx, input.path);
    const startLine = input.startLine ?? 1;
    const endLine = input.endLine ?? Number.POSITIVE_INFINITY;
    const maxBytes = input.maxBytes ?? DEFAULT_READ_MAX_BYTES;

    const { handle } = (await openRegularFile(real, display))!;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let selectedBytes = 0;
    let line = 1;
    let newlines = 0;
    let size = 0;
    let lastByte = -1;
    try {
      const chunk = Buffer.alloc(CHUNK_BYTES);
      for (;;) {
        ctx.signal?.throwIfAborted();
        const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, size);
        if (bytesRead === 0) break;
        const bytes = chunk.subarray(0, bytesRead);
        if (size < BINARY_SNIFF_BYTES && looksBinary(bytes.subarray(0, BINARY_SNIFF_BYTES - size))) {
          throw new ToolError("BINARY_FILE", `${display}: is a binary file (it has a NUL byte in its first ${groupThousands(BINARY_SNIFF_BYTES)} bytes); read_file only shows text`);
        }
        size += bytesRead;
        lastByte = bytes[bytesRead - 1]!;
        for (let at = 0; at < bytesRead; ) {
          const newline = bytes.indexOf(10, at);
          const end = newline === -1 ? bytesRead : newline + 1;
          if (line >= startLine && line <= endLine) {
            selectedBytes += end - at;
            // Keep a little beyond the cap: enough to tell where a character straddling it starts.
            const room = maxBytes + 4 - keptBytes;
            if (room > 0) {
              const piece = Buffer.from(bytes.subarray(at, Math.min(end, at + room)));
              kept.push(piece);
              keptBytes += piece.length;
            }
          }
          if (newline === -1) break;
          line++;
          newlines++;
          at = end;
        }
      }
    } finally {
      await handle.close();
    }

    const totalLines = newlines + (size > 0 && lastByte !== 10 ? 1 : 0);
    if (startLine > totalLines && !(startLine === 1 && totalLines === 0)) {
      throw new ToolError("LINE_OUT_OF_RANGE", `${display}: startLine ${startLine} is past the end of the file (it has ${totalLines} line${totalLines === 1 ? "" : "s"})`);
    }
    const lastLine = Math.min(endLine, totalLines);
    const selected = Buffer.concat(kept);
    let content: string;
    let omitted = 0;
    const notes: string[] = [];
    if (selectedBytes > maxBytes) {
      let cut = maxBytes;
      // Step back over continuation bytes (at most 3): the character straddling the cap is left out whole.
      while (cut > maxBytes - 3 && cut > 0 && isContinuation(selected[cut])) cut--;
      const head = selected.subarray(0, cut);
      content = head.toString("utf8");
      omitted = selectedBytes - cut;
      let completeLines = 0;
      for (let at = head.indexOf(10); at !== -1; at = head.indexOf(10, at + 1)) completeLines++;
      const next = startLine + completeLines;
      notes.push(
        `… [${groupThousands(omitted)} more bytes of lines ${next}–${lastLine} not shown (capped at ${groupThousands(maxBytes)} bytes); ` +
          `read on with startLine=${next}${next <= lastLine && completeLines === 0 ? " and a larger maxBytes" : ""}]`,
      );
    } else {
      content = selected.toString("utf8");
    }
    if (totalLines > 0 && (startLine > 1 || lastLine < totalLines)) notes.push(`… [lines ${startLine}–${lastLine} of ${totalLines}]`);
    else if (totalLines === 0) notes.push("… [the file is empty]");
    const output = notes.reduce(appendNote, content);
    return { output, path: display, content, startLine, endLine: lastLine, totalLines, truncated: omitted > 0, bytesOmitted: omitted };
  },
});
