import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";
import { DataDirLockedError, lockDataDir } from "../../server/db/data-dir-lock.js";

const child = fileURLToPath(new URL("../fixtures/lock-child.ts", import.meta.url));
const root = fileURLToPath(new URL("../..", import.meta.url));

function takeAt(dir: string, startAt: number, pauseMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const p = spawn(process.execPath, ["--import", "tsx", child, dir, String(startAt), String(pauseMs)], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    p.stdout.on("data", (d) => (out += d));
    p.on("error", reject);
    p.on("exit", () => resolve(out.trim()));
  });
}

test("a stale lock (its owner died) is taken over", () => {
  const dir = mkdtempSync(join(tmpdir(), "tracedeck-lock-"));
  try {
    writeFileSync(join(dir, "tracedeck.lock"), "999999");
    const lock = lockDataDir(dir);
    expect(readFileSync(lock.path, "utf8")).toBe(String(process.pid));
    lock.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a live owner's lock is refused with a message naming the folder and the pid", () => {
  const dir = mkdtempSync(join(tmpdir(), "tracedeck-lock-"));
  try {
    writeFileSync(join(dir, "tracedeck.lock"), String(process.ppid));
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(dir)).toThrow(new RegExp(`${dir}.*pid ${process.ppid}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("two processes taking over one stale lock: exactly one gets it", { timeout: 120_000 }, async () => {
  // Both read the stale lock at once; one takes it over at once, the other 300 ms later, by which
  // time the first holds a fresh lock. Deleting "the stale file" then linking let both win; moving it
  // aside atomically and checking what was moved lets exactly one.
  const outcomes: string[][] = [];
  for (let trial = 0; trial < 2; trial++) {
    const dir = mkdtempSync(join(tmpdir(), "tracedeck-lock-"));
    try {
      writeFileSync(join(dir, "tracedeck.lock"), "999999");
      const startAt = Date.now() + 5000; // after both children have loaded
      outcomes.push((await Promise.all([takeAt(dir, startAt, 0), takeAt(dir, startAt, 300)])).sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  expect(outcomes).toEqual(Array(2).fill(["ok", "refused"]));
});
