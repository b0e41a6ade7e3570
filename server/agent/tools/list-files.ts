/**
 * list_files: a bounded listing of a folder of the workspace.
 *
 * Breadth first (the top levels are listed before the bound can cut the deep ones), then sorted by
 * path, folder by folder. Entries are named relative to the workspace; folders end with "/",
 * symlinks with "@". Symlinks are listed, never followed (a link to a folder is not entered, so the
 * listing cannot leave the workspace). node_modules and .git are listed but not entered unless
 * includeSkipped. Notes say when maxEntries cut the listing, which folders the depth left
 * unexpanded and which were skipped.
 */
import { readdir } from "node:fs/promises";
import type { Dirent } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { NO_NUL_PATTERN, NO_NUL_REGEX, ToolError, appendNote, defineTool, groupThousands, resolveToolPath, type JsonSchema } from "./tool.js";

export const DEFAULT_LIST_MAX_ENTRIES = 500;
export const MAX_LIST_MAX_ENTRIES = 5000;
export const DEFAULT_LIST_DEPTH = 3;
export const MAX_LIST_DEPTH = 50;
/** Folders listed but not entered by default. */
export const SKIPPED_DIRECTORIES: readonly string[] = ["node_modules", ".git"];

export const listFilesInputSchema: JsonSchema = {
  type: "object",
  properties: {
    path: { type: "string", minLength: 1, pattern: NO_NUL_PATTERN, description: "The folder, relative to the workspace. Default: the workspace." },
    maxEntries: {
      type: "integer",
      minimum: 1,
      maximum: MAX_LIST_MAX_ENTRIES,
      description: `At most this many entries (default ${DEFAULT_LIST_MAX_ENTRIES}).`,
    },
    depth: { type: "integer", minimum: 1, maximum: MAX_LIST_DEPTH, description: `How many levels of folders to list (default ${DEFAULT_LIST_DEPTH}; 1: only the folder's own entries).` },
    includeSkipped: { type: "boolean", description: `Also enter ${SKIPPED_DIRECTORIES.join(" and ")} (default false).` },
  },
  additionalProperties: false,
};

export const listFilesZodSchema = z.strictObject({
  path: z.string().min(1).regex(NO_NUL_REGEX, "must not contain NUL characters").optional(),
  maxEntries: z.number().int().min(1).max(MAX_LIST_MAX_ENTRIES).optional(),
  depth: z.number().int().min(1).max(MAX_LIST_DEPTH).optional(),
  includeSkipped: z.boolean().optional(),
});

export interface ListFilesResult {
  output: string;
  /** The folder listed, relative to the workspace. */
  path: string;
  /** Sorted; folders end with "/", symlinks with "@". */
  entries: string[];
  /** Whether maxEntries cut the listing. */
  truncated: boolean;
  /** Folders not entered because of the depth. */
  unexpanded: number;
  /** Folders not entered because they are skipped (node_modules, .git). */
  skipped: string[];
}

interface Entry {
  segments: string[];
  label: string;
}

const compareSegments = (a: Entry, b: Entry) => {
  const n = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    if (a.segments[i] !== b.segments[i]) return a.segments[i]! < b.segments[i]! ? -1 : 1;
  }
  return a.segments.length - b.segments.length;
};

export const listFilesTool = defineTool({
  name: "list_files",
  description:
    "List the files and folders under a folder of the workspace (folders end with \"/\", symlinks with \"@\" and are not followed), " +
    `to a depth (default ${DEFAULT_LIST_DEPTH}) and a number of entries (default ${DEFAULT_LIST_MAX_ENTRIES}). ` +
    `${SKIPPED_DIRECTORIES.join(" and ")} are listed but not entered.`,
  inputSchema: listFilesInputSchema,
  zodSchema: listFilesZodSchema,
  async execute(input, ctx): Promise<ListFilesResult> {
    const { real, display } = resolveToolPath(ctx, input.path ?? ".");
    const maxEntries = input.maxEntries ?? DEFAULT_LIST_MAX_ENTRIES;
    const maxDepth = input.depth ?? DEFAULT_LIST_DEPTH;
    const prefix = display === "." ? [] : display.split(path.sep);

    const read = async (dir: string, shown: string): Promise<Dirent[]> => {
      try {
        return (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") throw new ToolError("NOT_FOUND", `${shown}: no such folder`);
        if (code === "ENOTDIR") throw new ToolError("NOT_A_DIRECTORY", `${shown}: is a file, not a folder (use read_file)`);
        throw error;
      }
    };

    const entries: Entry[] = [];
    const skipped: string[] = [];
    const unreadable: string[] = [];
    let unexpanded = 0;
    let truncated = false;
    let level: { dir: string; segments: string[] }[] = [{ dir: real, segments: prefix }];
    let first = true;
    for (let depth = 1; level.length > 0 && !truncated; depth++) {
      const next: typeof level = [];
      for (const { dir, segments } of level) {
        ctx.signal?.throwIfAborted();
        let children: Dirent[];
        try {
          children = await read(dir, segments.join("/") || ".");
        } catch (error) {
          if (first) throw error;
          unreadable.push(`${segments.join("/")}/`); // e.g. removed meanwhile, or no permission
          continue;
        }
        for (const child of children) {
          if (entries.length >= maxEntries) {
            truncated = true;
            break;
          }
          const childSegments = [...segments, child.name];
          const name = childSegments.join("/");
          if (child.isSymbolicLink()) {
            entries.push({ segments: childSegments, label: `${name}@` });
          } else if (child.isDirectory()) {
            entries.push({ segments: childSegments, label: `${name}/` });
            if (SKIPPED_DIRECTORIES.includes(child.name) && !input.includeSkipped) skipped.push(`${name}/`);
            else if (depth < maxDepth) next.push({ dir: path.join(dir, child.name), segments: childSegments });
            else unexpanded++;
          } else {
            entries.push({ segments: childSegments, label: name });
          }
        }
        first = false;
        if (truncated) break;
      }
      level = next;
    }

    const labels = entries.sort(compareSegments).map((e) => e.label);
    const notes: string[] = [];
    if (labels.length === 0) notes.push("… [empty folder]");
    if (truncated) {
      notes.push(
        `… [listing stopped at ${groupThousands(maxEntries)} entries; more exist: list a subfolder, lower depth, or raise maxEntries (up to ${groupThousands(MAX_LIST_MAX_ENTRIES)})]`,
      );
    }
    if (unexpanded > 0) notes.push(`… [${unexpanded} folder${unexpanded === 1 ? "" : "s"} at depth ${maxDepth} not entered; list them to see inside]`);
    if (skipped.length > 0) {
      const shown = skipped.length > 10 ? `${skipped.slice(0, 10).join(", ")}, …` : skipped.join(", ");
      notes.push(`… [not entered: ${shown} (includeSkipped: true to enter them)]`);
    }
    if (unreadable.length > 0) notes.push(`… [could not be read: ${unreadable.slice(0, 10).join(", ")}]`);
    const output = notes.reduce(appendNote, labels.join("\n"));
    return { output, path: display, entries: labels, truncated, unexpanded, skipped };
  },
});
