/**
 * edit_file: replaces one exact occurrence of `oldText` with `newText` in a text file.
 *
 * `oldText` must occur exactly once (overlapping occurrences count): not found, or found more than
 * once, is a ToolError and nothing is written. The replacement is literal (no `$&` patterns). The
 * file must be valid UTF-8 text (re-encoding anything else would change bytes the edit did not
 * touch). Written atomically like write_file, keeping the permission bits; `previous` as write_file.
 */
import { z } from "zod";
import { decodeUtf8, looksBinary, readRegularFile, writeFileAtomic } from "./files.js";
import { NO_NUL_PATTERN, NO_NUL_REGEX, ToolError, defineTool, groupThousands, resolveToolPath, type JsonSchema } from "./tool.js";
import { previousContent, type PreviousContent } from "./write-file.js";

export const editFileInputSchema: JsonSchema = {
  type: "object",
  properties: {
    path: { type: "string", minLength: 1, pattern: NO_NUL_PATTERN, description: "The file, relative to the workspace." },
    oldText: {
      type: "string",
      minLength: 1,
      description: "The exact text to replace (whitespace and indentation included). It must occur exactly once: include enough surrounding lines.",
    },
    newText: { type: "string", description: "The text to put in its place." },
  },
  required: ["path", "oldText", "newText"],
  additionalProperties: false,
};

export const editFileZodSchema = z.strictObject({
  path: z.string().min(1).regex(NO_NUL_REGEX, "must not contain NUL characters"),
  oldText: z.string().min(1, "must not be empty (to create a file, use write_file)"),
  newText: z.string(),
});

export interface EditFileResult extends PreviousContent {
  output: string;
  path: string;
  /** The line where the replaced text started. */
  line: number;
  bytesWritten: number;
}

/** Start offsets of every occurrence, overlapping ones included (so "aa" in "aaa" is ambiguous). */
function occurrences(text: string, search: string): number[] {
  const found: number[] = [];
  for (let at = text.indexOf(search); at !== -1; at = text.indexOf(search, at + 1)) found.push(at);
  return found;
}

const lineAt = (text: string, offset: number) => {
  let line = 1;
  for (let at = text.indexOf("\n"); at !== -1 && at < offset; at = text.indexOf("\n", at + 1)) line++;
  return line;
};

/** Cheap hints for an oldText that was not found: line endings, and its first line found with other indentation. */
function notFoundHints(text: string, oldText: string): string[] {
  const hints: string[] = [];
  if (text.includes("\r\n") && oldText.includes("\n") && !oldText.includes("\r\n")) hints.push("The file has CRLF (\\r\\n) line endings; oldText has \\n only.");
  const firstLine = oldText.split("\n").find((l) => l.trim() !== "")?.trim();
  if (firstLine !== undefined) {
    const lines = text.split("\n");
    const index = lines.findIndex((l) => l.trim() === firstLine);
    const near = index !== -1 ? index : lines.findIndex((l) => l.includes(firstLine));
    if (near !== -1) {
      const shown = lines[near]!.replace(/\r$/, "");
      hints.push(
        `The nearest match for its first line is line ${near + 1}: ${JSON.stringify(shown.length > 200 ? `${shown.slice(0, 200)}…` : shown)}; ` +
          "check the indentation and the lines after it (read_file shows the exact text).",
      );
    }
  }
  return hints;
}

export const editFileTool = defineTool({
  name: "edit_file",
  description:
    "Replace one exact occurrence of oldText with newText in a text file of the workspace. oldText must match exactly " +
    "(whitespace included) and occur exactly once; otherwise nothing is written and the error says why.",
  inputSchema: editFileInputSchema,
  zodSchema: editFileZodSchema,
  async execute(input, ctx): Promise<EditFileResult> {
    const { real, display } = resolveToolPath(ctx, input.path);
    const { bytes, mode } = (await readRegularFile(real, display))!;
    if (looksBinary(bytes)) throw new ToolError("BINARY_FILE", `${display}: is a binary file (it has a NUL byte in its first 8,192 bytes); edit_file only edits text`);
    const text = decodeUtf8(bytes);
    if (text === null) throw new ToolError("NOT_UTF8", `${display}: is not valid UTF-8 text; edit_file would change bytes it did not mean to (use write_file to replace it whole)`);

    const found = occurrences(text, input.oldText);
    if (found.length === 0) {
      throw new ToolError("NO_MATCH", [`oldText was not found in ${display}; nothing was written.`, ...notFoundHints(text, input.oldText)].join(" "));
    }
    if (found.length > 1) {
      const lines = [...new Set(found.map((at) => lineAt(text, at)))];
      const shown = lines.length > 10 ? `${lines.slice(0, 10).join(", ")}, …` : lines.join(", ");
      throw new ToolError(
        "MULTIPLE_MATCHES",
        `oldText was found ${found.length} times in ${display} (at lines ${shown}); it must match exactly once. ` +
          "Include more surrounding lines in oldText to make it unique. Nothing was written.",
      );
    }
    const at = found[0]!;
    const updated = Buffer.from(text.slice(0, at) + input.newText + text.slice(at + input.oldText.length), "utf8");
    ctx.signal?.throwIfAborted();
    await writeFileAtomic(real, updated, { mode });
    const line = lineAt(text, at);
    return {
      output: `edited ${display}: replaced 1 occurrence at line ${line} (${groupThousands(bytes.length)} → ${groupThousands(updated.length)} bytes)`,
      path: display,
      line,
      bytesWritten: updated.length,
      ...previousContent(bytes),
    };
  },
});
