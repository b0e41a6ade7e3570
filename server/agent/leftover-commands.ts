import { readdir, readFile, readlink, realpath } from "node:fs/promises";
import path from "node:path";

/**
 * The commands of Tracedeck agents whose server process is gone, on this machine (Linux /proc).
 * run_command starts each command as the leader of its own session and process group (detached),
 * with HOME set to the workspace; the server kills those groups when it exits, but a process killed
 * with SIGKILL (or the OOM killer) runs no exit hook, and unconfined commands are not tied to it
 * (bubblewrap's --die-with-parent takes sandboxed ones down). A group is left over when its leader
 * is a session leader whose HOME lies inside AGENT_WORKSPACES_ROOT and whose parent is no longer a
 * Node process (it was adopted by init or a subreaper): the commands of live servers, this one's
 * and other processes' on the same folder, have their server as parent and are spared.
 */
export async function orphanedCommandGroups(workspacesRoot: string): Promise<number[]> {
  if (process.platform !== "linux") return [];
  let root: string;
  try {
    root = await realpath(workspacesRoot);
  } catch {
    return [];
  }
  const inside = (target: string) => {
    const rel = path.relative(root, target);
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
  };
  const found: number[] = [];
  for (const entry of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, "utf8");
      // pid (comm) state ppid pgrp session …: comm may hold spaces and parentheses.
      const [state, ppid, pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z" || state === "X" || Number(pgrp) !== pid || Number(session) !== pid) continue;
      // A command of a live server has that server (a Node process) among its ancestors, directly
      // or through bwrap; an orphan was adopted by init or a subreaper.
      if (await hasNodeAncestor(Number(ppid))) continue;
      const environ = (await readFile(`/proc/${pid}/environ`, "utf8")).split("\0");
      const home = environ.find((v) => v.startsWith("HOME="))?.slice(5);
      if (home && path.isAbsolute(home) && inside(home)) found.push(pid);
    } catch {
      // gone meanwhile, or another user's process
    }
  }
  return found;
}

/** Whether the process or one of its ancestors (up to init) is a Node process. */
async function hasNodeAncestor(pid: number): Promise<boolean> {
  for (let depth = 0; pid > 1 && depth < 64; depth++) {
    if (pid === process.pid) return true;
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => "");
    if (exe === process.execPath || /^node/.test(path.basename(exe))) return true;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (!stat) return false;
    pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  }
  return false;
}
