// resolveBuildCommand / explainBuildCommand on real temp workspaces, with a fake pnpm on PATH.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { displayCommand, explainBuildCommand, resolveBuildCommand } from "../../../server/agent/autofix/build-command.js";
import { makeTempDir, removeDir } from "../helpers.js";

let ws: string;
let binWithPnpm: string;
let binWithout: string;
beforeEach(() => {
  ws = makeTempDir("tracedeck-build-cmd-");
  binWithPnpm = makeTempDir("tracedeck-fake-bin-");
  writeFileSync(join(binWithPnpm, "pnpm"), "#!/bin/sh\nexit 0\n");
  chmodSync(join(binWithPnpm, "pnpm"), 0o755);
  binWithout = makeTempDir("tracedeck-empty-bin-");
});
afterEach(() => {
  removeDir(ws);
  removeDir(binWithPnpm);
  removeDir(binWithout);
});

const packageJson = (value: unknown) => writeFileSync(join(ws, "package.json"), typeof value === "string" ? value : JSON.stringify(value));

describe("resolveBuildCommand", () => {
  test("a configured argument array wins over package.json and pnpm", () => {
    packageJson({ scripts: { build: "tsc" } });
    writeFileSync(join(ws, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n");
    expect(resolveBuildCommand(ws, ["make", "check", "JOBS=2"], binWithPnpm)).toEqual({ program: "make", args: ["check", "JOBS=2"], source: "configured", display: "make check JOBS=2" });
    // Without any package.json too.
    removeDir(join(ws, "package.json"));
    expect(resolveBuildCommand(ws, ["./build.sh"], binWithout)).toMatchObject({ program: "./build.sh", args: [], source: "configured" });
  });

  test("an empty configured array switches the build off", () => {
    packageJson({ scripts: { build: "tsc" } });
    expect(resolveBuildCommand(ws, [], binWithout)).toBeNull();
    expect(explainBuildCommand(ws, [], binWithout)).toMatchObject({ command: null, reason: "disabled" });
  });

  test("pnpm-lock.yaml with pnpm on PATH: pnpm build; without pnpm on PATH: npm run build", () => {
    packageJson({ scripts: { build: "tsc" } });
    writeFileSync(join(ws, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n");
    expect(resolveBuildCommand(ws, null, `${binWithout}:${binWithPnpm}`)).toEqual({ program: "pnpm", args: ["build"], source: "pnpm", display: "pnpm build" });
    expect(resolveBuildCommand(ws, undefined, binWithout)).toEqual({ program: "npm", args: ["run", "build"], source: "npm", display: "npm run build" });
    // A relative PATH entry is never used (it would mean the cwd).
    expect(resolveBuildCommand(ws, null, `relative-bin:${binWithout}`)).toMatchObject({ source: "npm" });
  });

  test("pnpm on PATH without a pnpm-lock.yaml: npm run build", () => {
    packageJson({ scripts: { build: "tsc" } });
    expect(resolveBuildCommand(ws, null, binWithPnpm)).toMatchObject({ source: "npm", display: "npm run build" });
  });

  test("a pnpm-lock.yaml that is a folder does not count", () => {
    packageJson({ scripts: { build: "tsc" } });
    mkdirSync(join(ws, "pnpm-lock.yaml"));
    expect(resolveBuildCommand(ws, null, binWithPnpm)).toMatchObject({ source: "npm" });
  });

  test("no build script, or no package.json: no build, with the reason", () => {
    expect(resolveBuildCommand(ws, null, binWithPnpm)).toBeNull();
    expect(explainBuildCommand(ws, null, binWithPnpm)).toMatchObject({ command: null, reason: "no-package-json" });
    packageJson({ name: "x", scripts: { test: "vitest" } });
    writeFileSync(join(ws, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n");
    expect(resolveBuildCommand(ws, null, binWithPnpm)).toBeNull();
    expect(explainBuildCommand(ws, null, binWithPnpm)).toMatchObject({ command: null, reason: "no-build-script" });
    packageJson({ name: "x" });
    expect(explainBuildCommand(ws, null, binWithout)).toMatchObject({ command: null, reason: "no-build-script" });
    packageJson({ scripts: { build: "  " } });
    expect(explainBuildCommand(ws, null, binWithout)).toMatchObject({ command: null, reason: "no-build-script" });
  });

  test("a bad package.json gives null without throwing, and the reason says why", () => {
    for (const [content, detail] of [
      ["{ not json", /not valid JSON/],
      ["[1, 2]", /not a JSON object/],
      ["null", /not a JSON object/],
      [{ scripts: ["build"] }, /scripts is not an object/],
      [{ scripts: { build: 7 } }, /scripts\.build is not a string/],
    ] as const) {
      packageJson(content);
      expect(resolveBuildCommand(ws, null, binWithout)).toBeNull();
      const explained = explainBuildCommand(ws, null, binWithout);
      expect(explained).toMatchObject({ command: null, reason: "bad-package-json" });
      expect((explained as { detail: string }).detail).toMatch(detail);
    }
    removeDir(join(ws, "package.json"));
    mkdirSync(join(ws, "package.json"));
    expect(explainBuildCommand(ws, null, binWithout)).toMatchObject({ command: null, reason: "bad-package-json", detail: "package.json cannot be read (EISDIR)" });
  });

  test("the default PATH is the child's: the demo workspace resolves to npm run build", () => {
    expect(resolveBuildCommand(join(import.meta.dirname, "../../../demo/workspace"), null)).toMatchObject({ program: "npm", args: ["run", "build"], source: "npm" });
  });
});

test("displayCommand quotes what a shell would need quoted", () => {
  expect(displayCommand("npm", ["run", "build"])).toBe("npm run build");
  expect(displayCommand("make", ["CFLAGS=-O2 -g", "it's", ""])).toBe(`make 'CFLAGS=-O2 -g' 'it'\\''s' ''`);
});
