/**
 * File rewind: puts the workspace's files back as they were at the end of a turn, from the file
 * journal (each file's content before the agent's first write to it in a later turn). Only what
 * write_file and edit_file changed is tracked: files that run_command or the build changed are not.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import type { AgentFileJournal } from "../db/generated/prisma/client.js";
import { ensureDirectory, writeFileAtomic } from "./tools/files.js";
import { resolveInside } from "./workspace-paths.js";
import { workspaceMoved } from "./workspace-setting.js";

export interface FileRewindResult {
  /** Files written back with their earlier content. */
  rewritten: string[];
  /** Files the agent created after the turn, removed. */
  deleted: string[];
  /** Files that could not be put back, and why. */
  skipped: { path: string; reason: string }[];
}

export const UNTRACKED_NOTE = "Only files written by write_file and edit_file are rewound; changes made by run_command or the build are not tracked and were left as they are.";

export async function applyRewind(workspace: string, plan: readonly AgentFileJournal[]): Promise<FileRewindResult> {
  const result: FileRewindResult = { rewritten: [], deleted: [], skipped: [] };
  const moved = workspaceMoved(workspace);
  if (moved) return { ...result, skipped: plan.map((entry) => ({ path: entry.path, reason: moved })) };
  for (const entry of plan) {
    let real: string;
    try {
      real = resolveInside(workspace, entry.path, { role: "path" });
    } catch (error) {
      result.skipped.push({ path: entry.path, reason: (error as Error).message });
      continue;
    }
    try {
      if (entry.tooLarge) {
        result.skipped.push({ path: entry.path, reason: "its earlier content was larger than the journal keeps (AGENT_JOURNAL_MAX_FILE_BYTES)" });
      } else if (entry.existed) {
        await ensureDirectory(path.dirname(real), path.dirname(entry.path));
        await writeFileAtomic(real, entry.content ?? new Uint8Array(), entry.mode === null ? {} : { mode: entry.mode });
        result.rewritten.push(entry.path);
      } else {
        await rm(real, { force: true });
        result.deleted.push(entry.path);
      }
    } catch (error) {
      result.skipped.push({ path: entry.path, reason: (error as Error).message });
    }
  }
  return result;
}
