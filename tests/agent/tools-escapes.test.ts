// Every path argument of the file tools stays inside the workspace: escapes are refused with
// nothing read or written outside (markers outside are checked untouched).
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { PathOutsideWorkspaceError } from "../../server/agent/command-errors.js";
import { editFileTool, listFilesTool, readFileTool, writeFileTool } from "../../server/agent/tools/index.js";
import { makeTempDir, removeDir } from "./helpers.js";

/**
 * base/
 *   ws/
 *     inside.txt
 *     link-file   -> base/outside/marker.txt
 *     link-dir    -> base/outside
 *     rel-link    -> ../outside
 *     dangling    -> base/outside/not-yet.txt
 *     in-link     -> inside.txt          (inside: allowed)
 *   outside/marker.txt
 */
let base: string;
let ws: string;
let outside: string;
const MARKER = "outside marker: must stay as it is";

beforeEach(() => {
  base = makeTempDir("tracedeck-tools-escape-");
  ws = join(base, "ws");
  outside = join(base, "outside");
  mkdirSync(ws);
  mkdirSync(outside);
  writeFileSync(join(outside, "marker.txt"), MARKER);
  writeFileSync(join(ws, "inside.txt"), "inside text");
  symlinkSync(join(outside, "marker.txt"), join(ws, "link-file"));
  symlinkSync(outside, join(ws, "link-dir"));
  symlinkSync("../outside", join(ws, "rel-link"));
  symlinkSync(join(outside, "not-yet.txt"), join(ws, "dangling"));
  symlinkSync("inside.txt", join(ws, "in-link"));
});
afterEach(() => removeDir(base));

const outsideUntouched = () => {
  expect(readdirSync(outside)).toEqual(["marker.txt"]);
  expect(readFileSync(join(outside, "marker.txt"), "utf8")).toBe(MARKER);
};

const refused = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PathOutsideWorkspaceError);
  return error as PathOutsideWorkspaceError;
};

/** "OUTSIDE" stands for the outside folder (made per test, after the cases are collected). */
const at = (path: string) => path.replace(/^OUTSIDE/, outside);

const escapes = () => [
  ["..", "../outside/marker.txt", "dotdot"],
  ["absolute", "OUTSIDE/marker.txt", "absolute"],
  ["symlinked file", "link-file", "symlink"],
  ["symlinked parent", "link-dir/marker.txt", "symlink"],
  ["relative symlinked parent", "rel-link/marker.txt", "symlink"],
] as const;

describe("file tools refuse paths that lead outside", () => {
  test.each(escapes())("read_file: %s", async (_name, path, reason) => {
    const error = await refused(readFileTool.run({ path: at(path) }, { workspace: ws }));
    expect(error.reason).toBe(reason);
    expect(error.message).not.toContain(MARKER);
  });

  test.each(escapes())("edit_file: %s", async (_name, path) => {
    await refused(editFileTool.run({ path: at(path), oldText: "outside marker", newText: "changed" }, { workspace: ws }));
    outsideUntouched();
  });

  test.each([
    ...escapes(),
    ["a new file behind a symlinked folder", "link-dir/new.txt", "symlink"],
    ["new folders behind a symlinked folder", "link-dir/a/b/new.txt", "symlink"],
    ["a dangling symlink", "dangling", "symlink"],
    [".. into new folders", "../outside/x/y.txt", "dotdot"],
  ] as const)("write_file: %s", async (_name, path, reason) => {
    const error = await refused(writeFileTool.run({ path: at(path), content: "pwned" }, { workspace: ws }));
    expect(error.reason).toBe(reason);
    outsideUntouched();
  });

  test.each([
    ["..", ".."],
    ["/", "/"],
    ["a symlinked folder", "link-dir"],
    ["a relative symlinked folder", "rel-link"],
  ])("list_files: %s", async (_name, path) => {
    await refused(listFilesTool.run({ path }, { workspace: ws }));
  });

  test("a symlink that stays inside is allowed (and names the real file)", async () => {
    const read = await readFileTool.run({ path: "in-link" }, { workspace: ws });
    expect(read).toMatchObject({ path: "inside.txt", content: "inside text" });
    const edited = await editFileTool.run({ path: "in-link", oldText: "inside", newText: "still inside" }, { workspace: ws });
    expect(edited.path).toBe("inside.txt");
    expect(readFileSync(join(ws, "inside.txt"), "utf8")).toBe("still inside text");
    outsideUntouched();
  });

  test("a workspace-absolute path and ./.. that stay inside are allowed", async () => {
    const result = await writeFileTool.run({ path: join(ws, "sub/../ok.txt"), content: "ok" }, { workspace: ws });
    expect(result.path).toBe("ok.txt");
    expect(readFileSync(join(ws, "ok.txt"), "utf8")).toBe("ok");
  });
});
