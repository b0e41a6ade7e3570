import { closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * PGlite has no lock of its own: two processes on one data folder would both write to it.
 * The lock file holds the owner's pid; a file whose process is gone is stale and taken over.
 */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "tracedeck.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // Write the pid to a private file, then link it into place: the lock appears with its
      // content at once, so no other process can read it empty and take it for stale.
      const draft = `${path}.${process.pid}.${Date.now()}`;
      const fd = openSync(draft, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      try {
        linkSync(draft, path);
      } finally {
        rmSync(draft, { force: true });
      }
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number.parseInt(readFileSync(path, "utf8"), 10);
      if (Number.isInteger(owner) && owner !== process.pid && processAlive(owner)) {
        throw new DataDirLockedError(
          `The data folder ${dir} is in use by another Tracedeck process (pid ${owner}). ` +
            `Stop that process, or set DATA_DIR to another folder.`,
        );
      }
      rmSync(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new DataDirLockedError(`Could not take the lock file ${path}`);
}
