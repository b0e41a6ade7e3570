/**
 * write_file: creates or replaces a file of the workspace with the given text.
 *
 * The path (the file and every folder on the way, symlinks included) must lead inside the
 * workspace; missing folders are created, then the path is checked again. The write is atomic
 * (writeFileAtomic: temp file in the same folder, then rename), and a replaced file keeps its
 * permission bits. The result carries the previous content in `previous` (null for a new file),
 * for a later rewind journal; it is not shown to the model.
 */
import path from "node:path";
import { z } from "zod";
import { decodeUtf8, ensureDirectory, readRegularFile, writeFileAtomic } from "./files.js";
import { NO_NUL_PATTERN, NO_NUL_REGEX, defineTool, groupThousands, resolveToolPath, type JsonSchema, type ToolContext } from "./tool.js";

export const writeFileInputSchema: JsonSchema = {
  type: "object",
  properties: {
    path: { type: "string", minLength: 1, pattern: NO_NUL_PATTERN, description: "The file, relative to the workspace. Missing folders are created." },
    content: { type: "string", description: "The whole new content of the file." },
  },
  required: ["path", "content"],
  additionalProperties: false,
};

export const writeFileZodSchema = z.strictObject({
  path: z.string().min(1).regex(NO_NUL_REGEX, "must not contain NUL characters"),
  content: z.string(),
});

/** What a file held before a tool changed it: for a rewind journal. */
export interface PreviousContent {
  /** The previous content, null when the file did not exist. Base64 when `previousEncoding` says so. */
  previous: string | null;
  /** "base64" when the previous bytes were not valid UTF-8 (so they can be restored exactly); null with no previous. */
  previousEncoding: "utf8" | "base64" | null;
}

export interface WriteFileResult extends PreviousContent {
  output: string;
  /** Relative to the workspace (symlinks resolved). */
  path: string;
  action: "created" | "replaced";
  bytesWritten: number;
}

export function previousContent(bytes: Buffer | null): PreviousContent {
  if (bytes === null) return { previous: null, previousEncoding: null };
  const text = decodeUtf8(bytes);
  return text === null ? { previous: bytes.toString("base64"), previousEncoding: "base64" } : { previous: text, previousEncoding: "utf8" };
}

/** Resolves a path to write: checked, its folders created, checked again (a folder created on the way cannot lead out). */
export async function resolveForWrite(ctx: ToolContext, target: string) {
  const first = resolveToolPath(ctx, target);
  await ensureDirectory(path.dirname(first.real), path.dirname(first.display));
  return resolveToolPath(ctx, target);
}

export const writeFileTool = defineTool({
  name: "write_file",
  description:
    "Create a file of the workspace, or replace its whole content, with the given text (missing folders are created). " +
    "To change part of an existing file, prefer edit_file.",
  inputSchema: writeFileInputSchema,
  zodSchema: writeFileZodSchema,
  async execute(input, ctx): Promise<WriteFileResult> {
    const { real, display } = await resolveForWrite(ctx, input.path);
    const existing = await readRegularFile(real, display, true);
    const data = Buffer.from(input.content, "utf8");
    ctx.signal?.throwIfAborted();
    await writeFileAtomic(real, data, existing === null ? {} : { mode: existing.mode });
    const action = existing === null ? "created" : "replaced";
    return {
      output: `${action} ${display} (${groupThousands(data.length)} bytes)`,
      path: display,
      action,
      bytesWritten: data.length,
      ...previousContent(existing?.bytes ?? null),
    };
  },
});
