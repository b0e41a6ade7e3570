// The file tools on real files: read_file, write_file, edit_file, list_files.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { TEMP_PREFIX, writeFileAtomic } from "../../server/agent/tools/files.js";
import { editFileTool, listFilesTool, readFileTool, ToolError, writeFileTool } from "../../server/agent/tools/index.js";
import { makeTempDir, removeDir } from "./helpers.js";

let ws: string;
beforeEach(() => {
  ws = makeTempDir("tracedeck-tools-");
});
afterEach(() => removeDir(ws));

const ctx = () => ({ workspace: ws });
const toolError = async (promise: Promise<unknown>): Promise<ToolError> => {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ToolError);
  return error as ToolError;
};
const tempFilesIn = (dir: string) => readdirSync(dir).filter((name) => name.startsWith(TEMP_PREFIX));

describe("read_file", () => {
  test("reads a whole file", async () => {
    writeFileSync(join(ws, "a.txt"), "one\ntwo\nthree\n");
    const result = await readFileTool.run({ path: "a.txt" }, ctx());
    expect(result).toMatchObject({ path: "a.txt", content: "one\ntwo\nthree\n", output: "one\ntwo\nthree\n", startLine: 1, endLine: 3, totalLines: 3, truncated: false });
  });

  test("a line range, inclusive and 1-based, with a note; endLine past the end is clamped", async () => {
    writeFileSync(join(ws, "a.txt"), "l1\nl2\nl3\nl4\nl5");
    const middle = await readFileTool.run({ path: "a.txt", startLine: 2, endLine: 3 }, ctx());
    expect(middle.content).toBe("l2\nl3\n");
    expect(middle.output).toBe("l2\nl3\n… [lines 2–3 of 5]");
    const tail = await readFileTool.run({ path: "a.txt", startLine: 4, endLine: 99 }, ctx());
    expect(tail).toMatchObject({ content: "l4\nl5", endLine: 5, totalLines: 5 });
    expect(tail.output).toBe("l4\nl5\n… [lines 4–5 of 5]");
    const error = await toolError(readFileTool.run({ path: "a.txt", startLine: 6 }, ctx()));
    expect(error.code).toBe("LINE_OUT_OF_RANGE");
    expect(error.message).toMatch(/startLine 6 is past the end of the file \(it has 5 lines\)/);
  });

  test("an empty file", async () => {
    writeFileSync(join(ws, "empty.txt"), "");
    const result = await readFileTool.run({ path: "empty.txt" }, ctx());
    expect(result).toMatchObject({ content: "", totalLines: 0, truncated: false });
    expect(result.output).toMatch(/empty/);
  });

  test("the byte cap keeps the head, never splits a UTF-8 character, and says what was left out", async () => {
    // "é" is 2 bytes: 10 lines of "ééééé\n" (11 bytes each) = 110 bytes.
    writeFileSync(join(ws, "u.txt"), "ééééé\n".repeat(10));
    const result = await readFileTool.run({ path: "u.txt", maxBytes: 16 }, ctx());
    // 16 bytes would cut the 3rd "é" of line 2 in half: 15 bytes are kept (line 1 + "éé").
    expect(result.content).toBe("ééééé\néé");
    expect(result).toMatchObject({ truncated: true, bytesOmitted: 110 - 15, totalLines: 10, endLine: 10 });
    expect(result.output).toContain("… [95 more bytes of lines 2–10 not shown (capped at 16 bytes); read on with startLine=2]");
    expect(result.output).not.toContain("\uFFFD");
  });

  test("the default cap is 64 KB, and a large file is counted to its end", async () => {
    const line = `${"x".repeat(99)}\n`; // 100 bytes
    writeFileSync(join(ws, "big.txt"), line.repeat(3000)); // 300,000 bytes, several read chunks
    const result = await readFileTool.run({ path: "big.txt" }, ctx());
    expect(Buffer.byteLength(result.content)).toBe(65_536);
    expect(result).toMatchObject({ totalLines: 3000, truncated: true, bytesOmitted: 300_000 - 65_536 });
    expect(result.output).toMatch(/read on with startLine=656\]/);
    const range = await readFileTool.run({ path: "big.txt", startLine: 2999, endLine: 3000 }, ctx());
    expect(range.content).toBe(line.repeat(2));
  });

  test("refuses a missing file, a directory and a binary file, clearly", async () => {
    mkdirSync(join(ws, "dir"));
    writeFileSync(join(ws, "bin.dat"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
    const missing = await toolError(readFileTool.run({ path: "nope.txt" }, ctx()));
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.message).toBe("nope.txt: no such file");
    const dir = await toolError(readFileTool.run({ path: "dir" }, ctx()));
    expect(dir.code).toBe("IS_DIRECTORY");
    expect(dir.message).toMatch(/is a directory.*list_files/);
    const binary = await toolError(readFileTool.run({ path: "bin.dat" }, ctx()));
    expect(binary.code).toBe("BINARY_FILE");
    expect(binary.message).toMatch(/binary file.*NUL byte/);
  });

  test("a NUL after the first 8 KB does not make a file binary", async () => {
    writeFileSync(join(ws, "late.txt"), Buffer.concat([Buffer.from("a".repeat(8192)), Buffer.from([0])]));
    const result = await readFileTool.run({ path: "late.txt" }, ctx());
    expect(result.content.length).toBe(8193);
  });
});

describe("write_file", () => {
  test("creates a file and its folders; returns previous: null", async () => {
    const result = await writeFileTool.run({ path: "src/deep/new.ts", content: "export const x = 1;\n" }, ctx());
    expect(result).toMatchObject({ path: "src/deep/new.ts", action: "created", bytesWritten: 20, previous: null, previousEncoding: null });
    expect(result.output).toBe("created src/deep/new.ts (20 bytes)");
    expect(readFileSync(join(ws, "src/deep/new.ts"), "utf8")).toBe("export const x = 1;\n");
    expect(tempFilesIn(join(ws, "src/deep"))).toEqual([]);
  });

  test("replaces a file, keeps its mode, returns the previous content", async () => {
    writeFileSync(join(ws, "run.sh"), "#!/bin/sh\necho old\n");
    chmodSync(join(ws, "run.sh"), 0o750);
    const result = await writeFileTool.run({ path: "run.sh", content: "#!/bin/sh\necho né\n" }, ctx());
    expect(result).toMatchObject({ action: "replaced", bytesWritten: 19, previous: "#!/bin/sh\necho old\n", previousEncoding: "utf8" });
    expect(readFileSync(join(ws, "run.sh"), "utf8")).toBe("#!/bin/sh\necho né\n");
    expect(statSync(join(ws, "run.sh")).mode & 0o777).toBe(0o750);
    expect(tempFilesIn(ws)).toEqual([]);
  });

  test("previous bytes that are not UTF-8 come back exactly, as base64", async () => {
    writeFileSync(join(ws, "latin1.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    const result = await writeFileTool.run({ path: "latin1.txt", content: "café" }, ctx());
    expect(result).toMatchObject({ previousEncoding: "base64", previous: Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString("base64") });
  });

  test("refuses a directory and a path under a file; nothing written", async () => {
    mkdirSync(join(ws, "dir"));
    writeFileSync(join(ws, "file.txt"), "keep");
    expect((await toolError(writeFileTool.run({ path: "dir", content: "x" }, ctx()))).code).toBe("IS_DIRECTORY");
    expect((await toolError(writeFileTool.run({ path: "file.txt/child", content: "x" }, ctx()))).code).toBe("NOT_A_DIRECTORY");
    expect(readFileSync(join(ws, "file.txt"), "utf8")).toBe("keep");
    expect(readdirSync(join(ws, "dir"))).toEqual([]);
  });

  test("atomic: a write that fails before the rename leaves the old content and no temp file", async () => {
    const file = join(ws, "a.txt");
    writeFileSync(file, "old content");
    let seen: string | undefined;
    await expect(
      writeFileAtomic(file, Buffer.from("new content"), {
        beforeRename: (temp) => {
          seen = temp;
          expect(readFileSync(temp, "utf8")).toBe("new content"); // complete before the rename
          expect(readFileSync(file, "utf8")).toBe("old content");
          throw new Error("disk gone");
        },
      }),
    ).rejects.toThrow("disk gone");
    expect(seen).toBeDefined();
    expect(readFileSync(file, "utf8")).toBe("old content");
    expect(readdirSync(ws)).toEqual(["a.txt"]);
  });

  test("atomic: a rename that really fails (the target became a folder) leaves no temp file", async () => {
    mkdirSync(join(ws, "target"));
    writeFileSync(join(ws, "target", "inside"), "x");
    await expect(writeFileAtomic(join(ws, "target"), Buffer.from("data"))).rejects.toThrow();
    expect(readdirSync(ws)).toEqual(["target"]);
    expect(readdirSync(join(ws, "target"))).toEqual(["inside"]);
  });
});

describe("edit_file", () => {
  test("replaces the one occurrence literally; returns previous and the line", async () => {
    writeFileSync(join(ws, "a.ts"), "const a = 1;\nconst b = 2;\nconst c = 3;\n");
    const result = await editFileTool.run({ path: "a.ts", oldText: "const b = 2;", newText: "const b = '$&$1';" }, ctx());
    expect(readFileSync(join(ws, "a.ts"), "utf8")).toBe("const a = 1;\nconst b = '$&$1';\nconst c = 3;\n");
    expect(result).toMatchObject({ path: "a.ts", line: 2, previous: "const a = 1;\nconst b = 2;\nconst c = 3;\n", previousEncoding: "utf8" });
    expect(result.output).toMatch(/^edited a\.ts: replaced 1 occurrence at line 2/);
    expect(tempFilesIn(ws)).toEqual([]);
  });

  test("zero matches: refused, says so, points at the nearest line, writes nothing", async () => {
    const before = "function f() {\n    return 1;\n}\n";
    writeFileSync(join(ws, "a.ts"), before);
    const mtime = statSync(join(ws, "a.ts")).mtimeMs;
    const error = await toolError(editFileTool.run({ path: "a.ts", oldText: "\treturn 1;\n}", newText: "\treturn 2;\n}" }, ctx()));
    expect(error.code).toBe("NO_MATCH");
    expect(error.message).toMatch(/oldText was not found in a\.ts; nothing was written/);
    expect(error.message).toMatch(/line 2: "    return 1;"/);
    expect(readFileSync(join(ws, "a.ts"), "utf8")).toBe(before);
    expect(statSync(join(ws, "a.ts")).mtimeMs).toBe(mtime);
    expect(readdirSync(ws)).toEqual(["a.ts"]);
  });

  test("two matches: refused, says how many and where, asks for context, writes nothing", async () => {
    const before = "x = 1\ny = 2\nx = 1\n";
    writeFileSync(join(ws, "a.py"), before);
    const error = await toolError(editFileTool.run({ path: "a.py", oldText: "x = 1", newText: "x = 3" }, ctx()));
    expect(error.code).toBe("MULTIPLE_MATCHES");
    expect(error.message).toMatch(/found 2 times in a\.py \(at lines 1, 3\).*more surrounding lines/);
    expect(readFileSync(join(ws, "a.py"), "utf8")).toBe(before);
    expect(readdirSync(ws)).toEqual(["a.py"]);
  });

  test("overlapping occurrences count as ambiguous", async () => {
    writeFileSync(join(ws, "a.txt"), "aaa");
    expect((await toolError(editFileTool.run({ path: "a.txt", oldText: "aa", newText: "b" }, ctx()))).code).toBe("MULTIPLE_MATCHES");
    expect(readFileSync(join(ws, "a.txt"), "utf8")).toBe("aaa");
  });

  test("refuses a missing file, a binary file and text that is not UTF-8", async () => {
    writeFileSync(join(ws, "bin"), Buffer.from([0x61, 0, 0x62]));
    writeFileSync(join(ws, "latin1"), Buffer.from([0x61, 0xe9, 0x62]));
    expect((await toolError(editFileTool.run({ path: "nope", oldText: "a", newText: "b" }, ctx()))).code).toBe("NOT_FOUND");
    expect((await toolError(editFileTool.run({ path: "bin", oldText: "a", newText: "b" }, ctx()))).code).toBe("BINARY_FILE");
    expect((await toolError(editFileTool.run({ path: "latin1", oldText: "a", newText: "b" }, ctx()))).code).toBe("NOT_UTF8");
    expect(readFileSync(join(ws, "latin1"))).toEqual(Buffer.from([0x61, 0xe9, 0x62]));
    expect(existsSync(join(ws, "nope"))).toBe(false);
  });
});

describe("list_files", () => {
  test("sorted, folders marked, paths relative to the workspace", async () => {
    mkdirSync(join(ws, "src/lib"), { recursive: true });
    writeFileSync(join(ws, "src/lib/util.ts"), "");
    writeFileSync(join(ws, "src/main.ts"), "");
    writeFileSync(join(ws, "src-notes.md"), "");
    writeFileSync(join(ws, "README.md"), "");
    const result = await listFilesTool.run({}, ctx());
    expect(result.entries).toEqual(["README.md", "src/", "src/lib/", "src/lib/util.ts", "src/main.ts", "src-notes.md"]);
    expect(result.output).toBe(result.entries.join("\n"));
    expect(result.truncated).toBe(false);
    const sub = await listFilesTool.run({ path: "src" }, ctx());
    expect(sub.entries).toEqual(["src/lib/", "src/lib/util.ts", "src/main.ts"]);
  });

  test("skips node_modules and .git (listed, not entered) unless asked", async () => {
    mkdirSync(join(ws, "node_modules/pkg"), { recursive: true });
    mkdirSync(join(ws, ".git/objects"), { recursive: true });
    writeFileSync(join(ws, "index.ts"), "");
    const result = await listFilesTool.run({}, ctx());
    expect(result.entries).toEqual([".git/", "index.ts", "node_modules/"]);
    expect(result.skipped).toEqual([".git/", "node_modules/"]);
    expect(result.output).toMatch(/not entered: \.git\/, node_modules\//);
    const all = await listFilesTool.run({ includeSkipped: true }, ctx());
    expect(all.entries).toEqual([".git/", ".git/objects/", "index.ts", "node_modules/", "node_modules/pkg/"]);
  });

  test("bounded by maxEntries (top levels first) and by depth, with notes", async () => {
    mkdirSync(join(ws, "a/b/c/d"), { recursive: true });
    for (let i = 0; i < 10; i++) writeFileSync(join(ws, "a/b", `f${i}.txt`), "");
    writeFileSync(join(ws, "z.txt"), "");
    const bounded = await listFilesTool.run({ maxEntries: 4 }, ctx());
    expect(bounded.entries).toEqual(["a/", "a/b/", "a/b/c/", "z.txt"]);
    expect(bounded.truncated).toBe(true);
    expect(bounded.output).toMatch(/listing stopped at 4 entries; more exist/);
    const shallow = await listFilesTool.run({ depth: 2 }, ctx());
    expect(shallow.entries).toEqual(["a/", "a/b/", "z.txt"]);
    expect(shallow.unexpanded).toBe(1);
    expect(shallow.output).toMatch(/1 folder at depth 2 not entered/);
    const deep = await listFilesTool.run({}, ctx());
    expect(deep.entries).toContain("a/b/c/");
    expect(deep.entries).not.toContain("a/b/c/d/");
  });

  test("symlinks are listed with @ and never followed", async () => {
    const outside = makeTempDir("tracedeck-tools-outside-");
    try {
      writeFileSync(join(outside, "secret.txt"), "s");
      mkdirSync(join(ws, "sub"));
      writeFileSync(join(ws, "sub/x.txt"), "");
      symlinkSync(outside, join(ws, "out-dir"));
      symlinkSync(join(outside, "secret.txt"), join(ws, "out-file"));
      symlinkSync("sub", join(ws, "in-dir"));
      const result = await listFilesTool.run({}, ctx());
      expect(result.entries).toEqual(["in-dir@", "out-dir@", "out-file@", "sub/", "sub/x.txt"]);
      expect(result.output).not.toContain("secret");
    } finally {
      removeDir(outside);
    }
  });

  test("refuses a file and a missing folder", async () => {
    writeFileSync(join(ws, "f.txt"), "");
    expect((await toolError(listFilesTool.run({ path: "f.txt" }, ctx()))).code).toBe("NOT_A_DIRECTORY");
    expect((await toolError(listFilesTool.run({ path: "nope" }, ctx()))).code).toBe("NOT_FOUND");
  });
});

test("an aborted signal stops a tool before it writes", async () => {
  const controller = new AbortController();
  controller.abort(new Error("stopped"));
  await expect(writeFileTool.run({ path: "a.txt", content: "x" }, { workspace: ws, signal: controller.signal })).rejects.toThrow("stopped");
  expect(readdirSync(ws)).toEqual([]);
});
