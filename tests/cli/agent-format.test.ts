// The pieces of `npm run agent` that need no server: its command line, how it shows tool calls
// and tokens, when it colours, and which workspace it sends.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { DEFAULT_URL, parseAgentArgs, UsageError } from "../../scripts/lib/agent-args.js";
import { describeError, resolveWorkspaceArg } from "../../scripts/lib/agent-session.js";
import { ResultError } from "../../scripts/lib/api.js";
import { createStyle, describeToolInput, formatTokens, indent, titleFromPrompt, wantsColor } from "../../scripts/lib/format.js";
import { makeTempDir, removeDir } from "../agent/helpers.js";

describe("the command line", () => {
  test("workspace, prompt and options; --url over TRACEDECK_URL over the default", () => {
    expect(parseAgentArgs(["-w", "proj", "Add", "a", "test"], {})).toEqual({
      help: false,
      url: DEFAULT_URL,
      workspace: "proj",
      prompt: "Add a test",
      chatId: undefined,
      provider: undefined,
      model: undefined,
      buildCommand: undefined,
      fixAttempts: undefined,
    });
    const all = parseAgentArgs(
      ["--workspace", "/w", "--chat", "c1", "--provider", "scripted", "--model", "demo", "--build", "make  check", "--fix-attempts", "0", "--url", "http://h:1", "go"],
      { TRACEDECK_URL: "http://env:2" },
    );
    expect(all).toMatchObject({ url: "http://h:1", workspace: "/w", chatId: "c1", provider: "scripted", model: "demo", buildCommand: ["make", "check"], fixAttempts: 0, prompt: "go" });
    expect(parseAgentArgs(["-w", "x", "go"], { TRACEDECK_URL: "http://env:2" }).url).toBe("http://env:2");
    expect(parseAgentArgs(["-w", "x", "--build", "auto", "go"], {}).buildCommand).toBeNull();
    expect(parseAgentArgs(["-w", "x", "--no-build", "go"], {}).buildCommand).toEqual([]);
    expect(parseAgentArgs(["--help"], {}).help).toBe(true);
  });

  test("mistakes are UsageErrors that say what to do", () => {
    const refused = (argv: string[]) => {
      try {
        parseAgentArgs(argv, {});
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error(`accepted: ${argv.join(" ")}`);
    };
    expect(refused(["go"])).toMatch(/--workspace DIR is required/);
    expect(refused(["-w", "x"])).toMatch(/a prompt is required/);
    expect(refused(["-w", "x", "--fix-attempts", "21", "go"])).toMatch(/from 0 to 20/);
    expect(refused(["-w", "x", "--fix-attempts", "two", "go"])).toMatch(/from 0 to 20/);
    expect(refused(["-w", "x", "--build", "make", "--no-build", "go"])).toMatch(/contradict/);
    expect(refused(["-w", "x", "--build", " ", "go"])).toMatch(/--build needs a command/);
    expect(refused(["-w", "x", "--nope", "go"])).toMatch(/Unknown option '--nope'/);
  });
});

describe("what is printed", () => {
  test("each tool's input in a few words", () => {
    expect(describeToolInput("run_command", { program: "ls", args: ["-1", "src"] })).toBe("ls -1 src");
    expect(describeToolInput("run_command", { program: "grep", args: ["a b", "it's"], cwd: "src" })).toBe(`grep 'a b' 'it'\\''s' (in src)`);
    expect(describeToolInput("build", { program: "npm", args: ["run", "build"], timeoutMs: 300000 })).toBe("npm run build");
    expect(describeToolInput("list_files", { depth: 2 })).toBe(". (depth 2)");
    expect(describeToolInput("list_files", { path: "src" })).toBe("src");
    expect(describeToolInput("read_file", { path: "a.ts", startLine: 3, endLine: 9 })).toBe("a.ts lines 3–9");
    expect(describeToolInput("write_file", { path: "a.ts", content: "x".repeat(2048) })).toBe("a.ts (2.0 KB)");
    expect(describeToolInput("edit_file", { path: "a.ts", oldText: "a\n  b", newText: "c" })).toBe("a.ts: a b → c");
    expect(describeToolInput("mystery", { q: 1 })).toBe('{"q":1}');
    expect(describeToolInput("mystery", {})).toBe("");
  });

  test("tokens, indentation, titles", () => {
    expect(formatTokens({ input: 1226, output: 551, cacheRead: 9470, cacheWrite: 1938, reasoning: 0 })).toBe(
      "input 1,226 · output 551 · cache read 9,470 · cache write 1,938 · reasoning 0",
    );
    expect(indent("a\n\nb\nc\n", "  | ", 2)).toBe("  | a\n  |\n  | … 2 more lines");
    expect(titleFromPrompt("  Fix the parser\nso that it works ")).toBe("Fix the parser");
    expect(titleFromPrompt("x".repeat(200))).toHaveLength(80);
  });

  test("colours on a terminal only, never with NO_COLOR", () => {
    expect(wantsColor({ isTTY: true }, {})).toBe(true);
    expect(wantsColor({ isTTY: false }, {})).toBe(false);
    expect(wantsColor({}, {})).toBe(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: "" })).toBe(true);
    expect(wantsColor({ isTTY: true }, { TERM: "dumb" })).toBe(false);
    expect(createStyle(false).red("x")).toBe("x");
    expect(createStyle(true).red("x")).toBe("\u001b[31mx\u001b[39m");
  });

  test("a refused input names the field", () => {
    expect(describeError(new ResultError("ValidationError", "Invalid input", [{ path: ["input", "fixAttempts"], message: "must be at most 20" }]))).toBe(
      "Invalid input\n  input.fixAttempts: must be at most 20",
    );
  });
});

describe("the workspace sent to the server", () => {
  const base = makeTempDir("tracedeck-cli-ws-");
  const root = join(base, "root");
  mkdirSync(join(root, "proj"), { recursive: true });
  mkdirSync(join(base, "elsewhere"), { recursive: true });
  afterAll(() => removeDir(base));

  test("absolute as is; from the current directory inside the root or with ./; else relative to the root", () => {
    expect(resolveWorkspaceArg("/a/b/../c", root, base)).toBe("/a/c");
    expect(resolveWorkspaceArg("root/proj", root, base)).toBe(join(root, "proj"));
    expect(resolveWorkspaceArg("proj", root, root)).toBe(join(root, "proj"));
    // Exists here but outside the root: the server's root-relative reading.
    expect(resolveWorkspaceArg("elsewhere", root, base)).toBe("elsewhere");
    // Not here: for the server.
    expect(resolveWorkspaceArg("proj", root, base)).toBe("proj");
    // Explicitly from here, even outside the root (the server then refuses it, naming the path).
    expect(resolveWorkspaceArg("./elsewhere", root, base)).toBe(join(base, "elsewhere"));
  });
});
