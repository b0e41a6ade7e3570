/**
 * A chat's agent workspace: a folder inside AGENT_WORKSPACES_ROOT, stored relative to it and
 * checked again (symlinks resolved) every time a turn starts, since the folder may have changed.
 */
import { realpathSync } from "node:fs";
import { mkdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { ValidationError } from "../errors.js";

const outside = (root: string) => `must be a folder inside AGENT_WORKSPACES_ROOT (${root})`;

const isInside = (root: string, target: string) => {
  const rel = path.relative(root, target);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
};

/** The setting as stored: relative to the root ("" is the root itself). Absolute paths must lie inside it. */
export function normalizeWorkspaceSetting(root: string, value: string): string {
  if (value.includes("\0")) throw new ValidationError([{ path: ["workspace"], message: "must not contain NUL" }]);
  const absolute = path.resolve(root, value);
  if (!isInside(root, absolute)) throw new ValidationError([{ path: ["workspace"], message: outside(root) }]);
  return path.relative(root, absolute);
}

/** Each chat's own folder until its settings name another. */
export const defaultWorkspaceOf = (chatId: string) => `chat-${chatId}`;

/**
 * The workspace's real path: it must exist (the default one is created), be a folder, and stay
 * inside the root once symlinks are resolved.
 */
export async function openWorkspace(root: string, setting: string, options: { create: boolean }): Promise<string> {
  const absolute = path.resolve(root, normalizeWorkspaceSetting(root, setting));
  await mkdir(root, { recursive: true });
  if (options.create) await mkdir(absolute, { recursive: true });
  let real: string;
  try {
    real = await realpath(absolute);
  } catch {
    throw new ValidationError([{ path: ["workspace"], message: `the folder ${absolute} does not exist` }]);
  }
  const realRoot = await realpath(root);
  if (!isInside(realRoot, real)) throw new ValidationError([{ path: ["workspace"], message: `${outside(root)}; ${absolute} leads to ${real}` }]);
  if (!(await stat(real)).isDirectory()) throw new ValidationError([{ path: ["workspace"], message: `${absolute} is not a folder` }]);
  return real;
}

/**
 * Whether the workspace is still where the turn found it. A command of another chat whose workspace
 * contains this one could swap the folder for a symlink leading anywhere; every tool call and the
 * rewind check this first.
 */
export function workspaceMoved(real: string): string | null {
  let now: string;
  try {
    now = realpathSync.native(real);
  } catch {
    return `the workspace ${real} is gone`;
  }
  return now === real ? null : `the workspace ${real} now leads to ${now}; nothing was run`;
}
