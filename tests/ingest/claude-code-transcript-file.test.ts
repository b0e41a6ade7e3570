import { execFileSync } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listTranscriptFiles, readTranscriptChunk, TranscriptRefusedError, type TranscriptRefusal } from "../../server/ingest/claude-code/transcript-file.js";
import { parseTranscript } from "../../server/ingest/claude-code/transcript.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/claude-code");
const SESSION = "7d3f1c2a-5b6e-4f80-9a1b-2c3d4e5f6a7b";
const AGENT = "a3f9c2e1";

let root: string;
let projects: string;
let project: string;
let sessionFile: string;
let subagentFile: string;
let outside: string;
const basic = readFileSync(path.join(fixtures, "session-basic.jsonl"), "utf8");

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), "tracedeck-cc-"));
  projects = path.join(root, "projects");
  project = path.join(projects, "-home-user-project");
  outside = path.join(root, "outside");
  mkdirSync(path.join(project, SESSION, "subagents"), { recursive: true });
  mkdirSync(outside);
  sessionFile = path.join(project, `${SESSION}.jsonl`);
  subagentFile = path.join(project, SESSION, "subagents", `agent-${AGENT}.jsonl`);
  copyFileSync(path.join(fixtures, "session-basic.jsonl"), sessionFile);
  copyFileSync(path.join(fixtures, SESSION, "subagents", `agent-${AGENT}.jsonl`), subagentFile);
  writeFileSync(path.join(outside, "secret.jsonl"), '{"type":"user","message":{"content":"secret"}}\n');
  writeFileSync(path.join(project, "notes.txt"), "not a transcript\n");
  symlinkSync(path.join(outside, "secret.jsonl"), path.join(project, "escape.jsonl"));
  symlinkSync(sessionFile, path.join(project, "alias.jsonl"));
  symlinkSync(path.join(project, "notes.txt"), path.join(project, "notes-link.jsonl"));
  symlinkSync(outside, path.join(project, "outside-dir"));
  mkdirSync(path.join(project, "folder.jsonl"));
  execFileSync("mkfifo", [path.join(project, "pipe.jsonl")]);
  symlinkSync(path.join(project, "pipe.jsonl"), path.join(project, "pipe-link.jsonl"));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const chunk = (file: string, offset = 0, maxBytes = 1 << 20) => readTranscriptChunk({ path: file, projectsDir: projects, offset, maxBytes });

async function refusal(promise: Promise<unknown>): Promise<TranscriptRefusal> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TranscriptRefusedError);
    expect((error as Error).message).not.toBe("");
    return (error as TranscriptRefusedError).reason;
  }
  throw new Error("expected a refusal");
}

/** A file of its own under the project, for the offset tests. */
function scratch(name: string, text: string): string {
  const file = path.join(project, name);
  writeFileSync(file, text);
  return file;
}

describe("readTranscriptChunk: what it refuses", () => {
  it("reads a transcript under the projects folder whole", async () => {
    const read = await chunk(sessionFile);
    expect(read).toEqual({ text: basic, nextOffset: Buffer.byteLength(basic), size: Buffer.byteLength(basic), truncated: false, restarted: false, skippedBytes: 0 });
    expect((await chunk(subagentFile)).text).toBe(readFileSync(subagentFile, "utf8"));
  });

  it("refuses a path outside the folder, and a .. traversal out of it", async () => {
    expect(await refusal(chunk(path.join(outside, "secret.jsonl")))).toBe("outside");
    expect(await refusal(chunk(path.join(project, "..", "..", "outside", "secret.jsonl")))).toBe("outside");
    expect(await refusal(chunk(`${project}/../../outside/secret.jsonl`))).toBe("outside");
    expect(await refusal(chunk("/etc/passwd.jsonl"))).toBe("outside");
    // the projects folder itself is not a transcript
    expect(await refusal(readTranscriptChunk({ path: `${projects}/.jsonl`, projectsDir: `${projects}/.jsonl`, offset: 0, maxBytes: 10 }))).toBe("not_found");
  });

  it("refuses a symlink whose target leaves the folder, or through a linked folder", async () => {
    expect(await refusal(chunk(path.join(project, "escape.jsonl")))).toBe("outside");
    expect(await refusal(chunk(path.join(project, "outside-dir", "secret.jsonl")))).toBe("outside");
  });

  it("allows a symlink inside the folder that points inside it", async () => {
    expect((await chunk(path.join(project, "alias.jsonl"))).text).toBe(basic);
    // .. that stays inside is fine too
    expect((await chunk(path.join(project, SESSION, "..", `${SESSION}.jsonl`))).text).toBe(basic);
  });

  it("refuses a FIFO without blocking, directly or through a link", { timeout: 5000 }, async () => {
    expect(await refusal(chunk(path.join(project, "pipe.jsonl")))).toBe("not_regular");
    expect(await refusal(chunk(path.join(project, "pipe-link.jsonl")))).toBe("not_regular");
  });

  it("refuses a directory named x.jsonl, a name not ending in .jsonl, a link to one", async () => {
    expect(await refusal(chunk(path.join(project, "folder.jsonl")))).toBe("not_regular");
    expect(await refusal(chunk(path.join(project, "notes.txt")))).toBe("not_jsonl");
    expect(await refusal(chunk(path.join(project, "notes-link.jsonl")))).toBe("not_jsonl");
    expect(await refusal(chunk(path.join(project, SESSION)))).toBe("not_jsonl");
  });

  it("refuses a relative or missing path, a missing projects folder, bad numbers", async () => {
    expect(await refusal(chunk(`-home-user-project/${SESSION}.jsonl`))).toBe("not_absolute");
    expect(await refusal(chunk(path.join(project, "missing.jsonl")))).toBe("not_found");
    expect(await refusal(chunk(""))).toBe("bad_request");
    expect(await refusal(chunk(`${sessionFile}\0`))).toBe("bad_request");
    expect(await refusal(readTranscriptChunk({ path: sessionFile, projectsDir: path.join(root, "nope"), offset: 0, maxBytes: 10 }))).toBe("not_found");
    expect(await refusal(chunk(sessionFile, -1))).toBe("bad_request");
    expect(await refusal(chunk(sessionFile, 0.5))).toBe("bad_request");
    expect(await refusal(chunk(sessionFile, 0, 0))).toBe("bad_request");
  });
});

describe("readTranscriptChunk: offsets", () => {
  it("gives the whole file in two chunks, each of complete lines", async () => {
    const size = Buffer.byteLength(basic);
    const first = await chunk(sessionFile, 0, Math.ceil(size / 2));
    expect(first.truncated).toBe(true);
    expect(first.text.endsWith("\n")).toBe(true);
    expect(first.nextOffset).toBe(Buffer.byteLength(first.text));
    expect(first.nextOffset).toBeLessThanOrEqual(Math.ceil(size / 2));
    const second = await chunk(sessionFile, first.nextOffset, size);
    expect(second).toMatchObject({ nextOffset: size, size, truncated: false, restarted: false });
    expect(first.text + second.text).toBe(basic);
    // parsed in two chunks, the same entries as parsed whole
    const whole = parseTranscript(basic).entries.length;
    expect(parseTranscript(first.text).entries.length + parseTranscript(second.text).entries.length).toBe(whole);
  });

  it("never returns more than maxBytes, and reading on from nextOffset gives the whole file", async () => {
    const size = Buffer.byteLength(basic);
    const longest = Math.max(...basic.split("\n").map((l) => Buffer.byteLength(l) + 1));
    for (const maxBytes of [longest, longest + 17, 2000 + longest, size - 1, size, size * 2]) {
      let offset = 0;
      let text = "";
      for (let reads = 0; offset < size; reads++) {
        expect(reads).toBeLessThan(100);
        const read = await chunk(sessionFile, offset, maxBytes);
        expect(Buffer.byteLength(read.text)).toBeLessThanOrEqual(maxBytes);
        expect(read.skippedBytes).toBe(0);
        expect(read.nextOffset).toBeGreaterThan(offset);
        text += read.text;
        offset = read.nextOffset;
      }
      expect(text).toBe(basic);
    }
  });

  it("leaves a partial last line for next time", async () => {
    const file = scratch("partial.jsonl", '{"a":1}\n{"b":"é');
    const first = await chunk(file);
    expect(first).toEqual({ text: '{"a":1}\n', nextOffset: 8, size: Buffer.byteLength('{"a":1}\n{"b":"é'), truncated: false, restarted: false, skippedBytes: 0 });
    // nothing complete yet from there
    expect(await chunk(file, first.nextOffset)).toMatchObject({ text: "", nextOffset: 8, truncated: false });
    appendFileSync(file, 'è"}\n{"c":3}\n');
    const second = await chunk(file, first.nextOffset);
    expect(second.text).toBe('{"b":"éè"}\n{"c":3}\n');
    expect(second.nextOffset).toBe(second.size);
  });

  it("skips a line longer than maxBytes instead of sticking on it", async () => {
    const long = `{"x":"${"y".repeat(300_000)}"}\n`;
    const file = scratch("long.jsonl", `{"a":1}\n${long}{"c":3}\n`);
    const first = await chunk(file, 0, 1000);
    expect(first).toMatchObject({ text: '{"a":1}\n', nextOffset: 8, truncated: true });
    const skipped = await chunk(file, first.nextOffset, 1000);
    expect(skipped).toMatchObject({ text: "", nextOffset: 8 + Buffer.byteLength(long), skippedBytes: Buffer.byteLength(long), truncated: true });
    expect(await chunk(file, skipped.nextOffset, 1000)).toMatchObject({ text: '{"c":3}\n', truncated: false, skippedBytes: 0 });
    // an overlong line still being written is waited for, not skipped
    const growing = scratch("growing.jsonl", `{"x":"${"y".repeat(5000)}`);
    expect(await chunk(growing, 0, 1000)).toMatchObject({ text: "", nextOffset: 0, skippedBytes: 0, truncated: false });
  });

  it("starts again from 0 when the file shrank below the offset", async () => {
    const file = scratch("rewritten.jsonl", '{"a":1}\n{"b":2}\n{"c":3}\n');
    const first = await chunk(file);
    expect(first.nextOffset).toBe(24);
    truncateSync(file, 0);
    writeFileSync(file, '{"z":9}\n');
    expect(await chunk(file, first.nextOffset)).toEqual({ text: '{"z":9}\n', nextOffset: 8, size: 8, truncated: false, restarted: true, skippedBytes: 0 });
    // at the end exactly: nothing new, not a restart
    expect(await chunk(file, 8)).toEqual({ text: "", nextOffset: 8, size: 8, truncated: false, restarted: false, skippedBytes: 0 });
  });
});

describe("listTranscriptFiles", () => {
  it("finds the .jsonl files recursively, sorted, subagents included, links kept inside", async () => {
    const files = await listTranscriptFiles(projects);
    const relative = files.map((f) => path.relative(projects, f));
    expect(relative).toEqual([...relative].sort());
    expect(relative).toContain(`-home-user-project/${SESSION}.jsonl`);
    expect(relative).toContain(`-home-user-project/${SESSION}/subagents/agent-${AGENT}.jsonl`);
    expect(relative).toContain("-home-user-project/alias.jsonl"); // a link inside, to inside
    for (const left of ["escape.jsonl", "notes-link.jsonl", "notes.txt", "folder.jsonl", "pipe.jsonl", "pipe-link.jsonl", "outside-dir/secret.jsonl"]) {
      expect(relative).not.toContain(`-home-user-project/${left}`);
    }
    for (const file of files) expect(path.isAbsolute(file)).toBe(true);
  });

  it("lists a session's folder within the projects folder, and a single file", async () => {
    expect(await listTranscriptFiles(path.join(project, SESSION), projects)).toEqual([subagentFile]);
    expect(await listTranscriptFiles(sessionFile, projects)).toEqual([sessionFile]);
  });

  it("refuses a folder outside the projects folder, a missing one, a non-.jsonl file", async () => {
    expect(await refusal(listTranscriptFiles(outside, projects))).toBe("outside");
    expect(await refusal(listTranscriptFiles(path.join(project, "outside-dir"), projects))).toBe("outside");
    expect(await refusal(listTranscriptFiles(path.join(root, "nope")))).toBe("not_found");
    expect(await refusal(listTranscriptFiles(path.join(project, "notes.txt"), projects))).toBe("not_jsonl");
  });
});
