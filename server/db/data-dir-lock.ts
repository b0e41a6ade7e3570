import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * PGlite has no lock of its own: two processes on one data folder would both write to it.
 * The lock file holds the owner's pid; a file whose process is gone is stale and taken over.
 */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

/** Whether a process of this machine is alive (signal 0 checks without signalling). */
export function processAlive(pid: number): boolean {
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

export interface LockOptions {
  /** Test switch: pause between reading a stale lock and taking it over, so a race can be forced. */
  takeoverPauseMs?: number;
}

export function lockDataDir(dataDir: string, options: LockOptions = {}): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "tracedeck.lock");
  const inUse = (owner: number) =>
    new DataDirLockedError(
      `The data folder ${dir} is in use by another Tracedeck process (pid ${owner}). ` + `Stop that process, or set DATA_DIR to another folder.`,
    );
  const ownerIn = (file: string) => {
    try {
      return Number.parseInt(readFileSync(file, "utf8"), 10);
    } catch {
      return Number.NaN; // gone meanwhile
    }
  };
  for (let attempt = 0; attempt < 5; attempt++) {
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
      const owner = ownerIn(path);
      if (Number.isNaN(owner)) continue;
      if (owner !== process.pid && processAlive(owner)) throw inUse(owner);
      if (options.takeoverPauseMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, options.takeoverPauseMs);
      // Stale: its owner is gone. Move it aside atomically (only one process can), then make sure
      // what was moved is that stale lock and not one a live process took in the meantime.
      const aside = `${path}.stale.${process.pid}.${Date.now()}`;
      try {
        renameSync(path, aside);
      } catch (moveError) {
        if ((moveError as NodeJS.ErrnoException).code === "ENOENT") continue; // another process moved it
        throw moveError;
      }
      const moved = ownerIn(aside);
      if (moved !== owner && processAlive(moved)) {
        try {
          linkSync(aside, path); // put the live owner's lock back
        } finally {
          rmSync(aside, { force: true });
        }
        throw inUse(moved);
      }
      rmSync(aside, { force: true });
    }
  }
  throw new DataDirLockedError(`Could not take the lock file ${path}`);
}
