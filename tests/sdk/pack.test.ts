// The SDK as a user gets it: `npm pack` in sdk/ (its prepack builds dist/ with tsc), the tarball
// installed offline into a scratch project outside the repository, and plain node scripts there that
// trace tools through it against the app over real HTTP. Also: its type declarations resolve for a
// TypeScript user, and a script that never calls close() still exits at once while the server is down.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { freePort, tracesOf } from "./sdk-helpers.js";

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, "../..");
const sdkDir = join(repoRoot, "sdk");

// npm and node as a user runs them: none of the npm_* variables of the `npx vitest` that runs us.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_")));

let db: TestDatabase;
let t: TestApp;
let scratch: string;
let packDir: string;
let packed: { filename: string; files: { path: string }[] };

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
  packDir = mkdtempSync(join(tmpdir(), "tracedeck-sdk-pack-"));
  scratch = mkdtempSync(join(tmpdir(), "tracedeck-sdk-consumer-"));
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", packDir], { cwd: sdkDir, env: cleanEnv });
  packed = (JSON.parse(stdout.slice(stdout.indexOf("["))) as (typeof packed)[])[0]!;
  writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "sdk-consumer", version: "1.0.0", private: true, type: "module" }, null, 2));
  await run("npm", ["install", join(packDir, packed.filename), "--offline", "--no-audit", "--no-fund"], { cwd: scratch, env: cleanEnv });
}, 120_000);
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
  for (const dir of [scratch, packDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the tarball holds the build, its declarations and the README, nothing else", () => {
  const paths = packed.files.map((f) => f.path).sort();
  expect(paths).toContain("package.json");
  expect(paths).toContain("README.md");
  expect(paths).toContain("dist/index.js");
  expect(paths).toContain("dist/index.d.ts");
  expect(paths.filter((p) => !p.startsWith("dist/") && p !== "package.json" && p !== "README.md")).toEqual([]);
  expect(paths.some((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toBe(false);
  const manifest = JSON.parse(readFileSync(join(scratch, "node_modules/@tracedeck/sdk/package.json"), "utf8")) as Record<string, any>;
  expect(manifest).toMatchObject({ name: "@tracedeck/sdk", version: "0.1.0", type: "module" });
  expect(manifest.dependencies ?? {}).toEqual({});
});

test("a plain node script in a scratch project traces tools through the installed package", async () => {
  writeFileSync(
    join(scratch, "agent.mjs"),
    `import { createClient } from "@tracedeck/sdk";
const client = createClient({ url: process.env.TRACEDECK_URL, chatTitle: "from the packed sdk", logger: null });
const files = await client.traceTool("list_files", { dir: "." }, async () => ["a.ts", "b.ts"]);
let caught;
try {
  await client.traceTool("run_command", { program: "make" }, async () => { throw new Error("make: *** [all] Error 2"); });
} catch (error) {
  caught = error.message;
}
client.saveSnapshot({ messages: [{ role: "user", content: "build it" }] });
const stats = await client.close();
console.log(JSON.stringify({ chatId: client.chatId, files, caught, stats }));
`,
  );
  const began = performance.now();
  const { stdout } = await run(process.execPath, ["agent.mjs"], { cwd: scratch, env: { ...cleanEnv, TRACEDECK_URL: t.url }, timeout: 30_000 });
  const ranMs = performance.now() - began;
  const out = JSON.parse(stdout) as { chatId: string; files: string[]; caught: string; stats: Record<string, number> };
  expect(out.files).toEqual(["a.ts", "b.ts"]);
  expect(out.caught).toBe("make: *** [all] Error 2");
  expect(out.stats).toMatchObject({ sent: 5, pending: 0, dropped: 0, rejected: 0 });

  const traces = await tracesOf(db, out.chatId);
  expect(traces.map((tr) => [tr.toolName, tr.status, tr.toolOutput, tr.error]).sort()).toEqual([
    ["list_files", "ok", JSON.stringify(["a.ts", "b.ts"]), null],
    ["run_command", "error", null, "make: *** [all] Error 2"],
  ]);
  expect(await db.prisma.agentSnapshotRevision.count({ where: { chatId: out.chatId } })).toBe(1);
  console.log(`the packed SDK's script ran in ${ranMs.toFixed(0)} ms (node start included)`);
});

test("a script that never closes the client exits by itself while the server is down", async () => {
  writeFileSync(
    join(scratch, "forgetful.mjs"),
    `import { createClient } from "@tracedeck/sdk";
const client = createClient({ url: "http://127.0.0.1:${await freePort()}", logger: null });
console.log(await client.traceTool("t", {}, async () => "done"));
`,
  );
  const began = performance.now();
  const { stdout } = await run(process.execPath, ["forgetful.mjs"], { cwd: scratch, env: cleanEnv, timeout: 15_000 });
  const ranMs = performance.now() - began;
  expect(stdout.trim()).toBe("done");
  console.log(`a script with unsent traces and no close() exited after ${ranMs.toFixed(0)} ms`);
  expect(ranMs).toBeLessThan(5_000); // the retry timers are unref'd: no 10 s backoff holds it
});

test("the declarations serve a TypeScript user (NodeNext resolution through the exports map)", async () => {
  writeFileSync(
    join(scratch, "check.ts"),
    `import { createClient, type ClientStats, type TracedeckClient } from "@tracedeck/sdk";
const client: TracedeckClient = createClient({ url: "http://127.0.0.1:4000", apiKey: "k", onDrop: (d) => void d.reason });
const n: Promise<number> = client.traceTool("t", {}, async () => 1);
const s: ClientStats = client.stats();
// @ts-expect-error: the result type follows the tool's
const wrong: Promise<string> = client.traceTool("t", {}, () => 1);
export { n, s, wrong };
`,
  );
  writeFileSync(
    join(scratch, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022", "DOM"], types: [], strict: true, noEmit: true }, files: ["check.ts"] }),
  );
  const tsc = join(repoRoot, "node_modules/typescript/bin/tsc");
  const result = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: scratch, env: cleanEnv }).catch((error: { stdout: string }) => ({ stdout: error.stdout, failed: true }));
  expect(result.stdout).toBe("");
});
