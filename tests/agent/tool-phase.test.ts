// The tool phase on a real database (through the services), real files and real child processes.
import { randomUUID } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { runToolCall, type ToolCall } from "../../server/agent/tool-phase.js";
import { defineTool, readFileTool, runCommandTool, writeFileTool, type ToolContext } from "../../server/agent/tools/index.js";
import { useServiceDatabase } from "../helpers/service-assertions.js";
import { z } from "zod";
import { makeTempDir, removeDir, waitUntil } from "./helpers.js";

const { db, h } = useServiceDatabase();

let ws: string;
let chatId: string;
beforeEach(async () => {
  ws = makeTempDir("tracedeck-tool-phase-");
  chatId = (await h.services.chats.create({ title: "tool phase" })).id;
});
afterEach(() => removeDir(ws));

const call = (fields: Pick<ToolCall, "tool" | "input"> & Partial<ToolCall>) =>
  runToolCall({ services: h.services, chatId, turnNumber: 1, toolCallId: `call-${randomUUID()}`, ctx: { workspace: ws, sandbox: { kind: "off" } }, ...fields });
const traceOf = (toolCallId: string) => db.prisma.toolTrace.findUniqueOrThrow({ where: { chatId_toolCallId: { chatId, toolCallId } } });

describe("a tool call is traced through the services", () => {
  test("the trace is running while the tool runs, then ok with the output and the latency", async () => {
    writeFileSync(join(ws, "a.txt"), "one\ntwo\n");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    // read_file held at a gate the test releases.
    const slowRead = defineTool({
      name: "read_file",
      description: readFileTool.description,
      inputSchema: readFileTool.inputSchema,
      zodSchema: readFileTool.zodSchema,
      async execute(input, ctx: ToolContext) {
        entered = true;
        await gate;
        return readFileTool.run(input, ctx);
      },
    });
    const toolCallId = "call-slow-read";
    const pending = call({ tool: slowRead, input: { path: "a.txt" }, toolCallId, messageId: "msg-1" });
    expect(await waitUntil(() => entered, 5_000)).toBe(true);
    const running = await traceOf(toolCallId);
    expect(running).toMatchObject({ status: "running", toolName: "read_file", toolInput: { path: "a.txt" }, messageId: "msg-1", turnNumber: 1, finishedAt: null });

    const WAIT_MS = 150;
    await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
    release();
    const outcome = await pending;
    expect(outcome).toMatchObject({ traceId: running.id, status: "ok", isError: false, output: "one\ntwo\n" });
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(WAIT_MS);
    const done = await traceOf(toolCallId);
    expect(done).toMatchObject({ status: "ok", toolOutput: "one\ntwo\n", error: null, latencyMs: outcome.latencyMs });
    expect(done.finishedAt!.getTime() - done.startedAt.getTime()).toBe(outcome.latencyMs);
    const kinds = (await db.prisma.chatEvent.findMany({ where: { chatId, subjectId: running.id }, orderBy: { seq: "asc" } })).map((e) => e.kind);
    expect(kinds).toEqual(["trace_started", "trace_finished"]);
  });

  test("a tool that throws finishes as error with the message, and the error goes on to the caller", async () => {
    const broken = defineTool({
      name: "broken",
      description: "always fails",
      inputSchema: { type: "object" },
      zodSchema: z.object({}),
      async execute(): Promise<{ output: string }> {
        throw new Error("disk on fire");
      },
    });
    const toolCallId = "call-broken";
    await expect(call({ tool: broken, input: {}, toolCallId })).rejects.toThrow("disk on fire");
    expect(await traceOf(toolCallId)).toMatchObject({ status: "error", error: "disk on fire", toolOutput: null });
  });

  test("a ToolError or bad input is shown to the model as the result and the trace is error", async () => {
    const missing = await call({ tool: readFileTool, input: { path: "nope.txt" }, toolCallId: "call-missing" });
    expect(missing).toMatchObject({ status: "error", isError: true });
    expect(missing.output).toMatch(/nope\.txt/);
    expect(await traceOf("call-missing")).toMatchObject({ status: "error", error: missing.output });

    const bad = await call({ tool: readFileTool, input: { path: 7 }, toolCallId: "call-bad" });
    expect(bad).toMatchObject({ status: "error", isError: true });
    expect(bad.output).toMatch(/read_file: invalid input: path/);
  });

  test("a path escape finishes as error and nothing is created outside the workspace", async () => {
    const outside = join(dirname(ws), `${basename(ws)}-escape.txt`);
    const outcome = await call({ tool: writeFileTool, input: { path: `../${basename(outside)}`, content: "x" }, toolCallId: "call-escape" });
    expect(outcome).toMatchObject({ status: "error", isError: true });
    expect(outcome.output).toMatch(/outside the workspace/);
    expect(existsSync(outside)).toBe(false);
    const trace = await traceOf("call-escape");
    expect(trace.status).toBe("error");
    expect(trace.error).toMatch(/outside the workspace/);
  });
});

describe("run_command through the tool phase", () => {
  test("sandbox off: the output and the exit code", async () => {
    const outcome = await call({ tool: runCommandTool, input: { program: "node", args: ["-e", "console.log('hi there'); process.exit(4)"] }, toolCallId: "call-run" });
    expect(outcome).toMatchObject({ status: "ok", isError: false });
    expect(outcome.output).toMatch(/^hi there\n\[exit code 4; [\d,]+ ms\]$/);
    expect(await traceOf("call-run")).toMatchObject({ status: "ok", toolOutput: outcome.output, toolInput: { program: "node", args: ["-e", "console.log('hi there'); process.exit(4)"] } });
  });

  test("a timeout finishes the trace as timeout", async () => {
    const outcome = await call({ tool: runCommandTool, input: { program: "sleep", args: ["10"], timeoutMs: 300 }, toolCallId: "call-timeout" });
    expect(outcome).toMatchObject({ status: "timeout", isError: true });
    expect(outcome.output).toContain("(timed out after 300 ms)");
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(300);
    expect(await traceOf("call-timeout")).toMatchObject({ status: "timeout", error: "run_command timed out after 300 ms" });
  });

  test("cancellation through the AbortSignal finishes the trace as cancelled", async () => {
    const controller = new AbortController();
    const pending = call({ tool: runCommandTool, input: { program: "sleep", args: ["10"] }, toolCallId: "call-cancel", ctx: { workspace: ws, sandbox: { kind: "off" }, signal: controller.signal } });
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the command start
    controller.abort();
    const outcome = await pending;
    expect(outcome).toMatchObject({ status: "cancelled", isError: true });
    expect(outcome.latencyMs).toBeLessThan(5_000);
    expect(await traceOf("call-cancel")).toMatchObject({ status: "cancelled" });

    // Aborted before the tool starts: the tool throws the signal's reason; still cancelled.
    const already = new AbortController();
    already.abort(new Error("user stopped the agent"));
    const early = await call({ tool: readFileTool, input: { path: "a.txt" }, toolCallId: "call-cancel-early", ctx: { workspace: ws, signal: already.signal } });
    expect(early).toMatchObject({ status: "cancelled", output: "read_file was cancelled: user stopped the agent" });
    expect(await traceOf("call-cancel-early")).toMatchObject({ status: "cancelled", error: "read_file was cancelled: user stopped the agent" });
  });

  test("without a sandbox in the context, run_command is refused and the trace says why", async () => {
    const outcome = await call({ tool: runCommandTool, input: { program: "node", args: ["-e", "require('fs').writeFileSync('ran.txt', 'x')"] }, toolCallId: "call-nosandbox", ctx: { workspace: ws } });
    expect(outcome).toMatchObject({ status: "error", isError: true });
    expect(outcome.output).toMatch(/no working sandbox \(no sandbox was configured/);
    expect(existsSync(join(ws, "ran.txt"))).toBe(false);
    const trace = await traceOf("call-nosandbox");
    expect(trace.status).toBe("error");
    expect(trace.error).toMatch(/run_command refused: no working sandbox/);
  });
});

describe("token usage", () => {
  test("usage the services would refuse is refused before the trace starts or the tool runs", async () => {
    const toolCallId = `call-${randomUUID()}`;
    await expect(call({ tool: writeFileTool, input: { path: "never.txt", content: "x" }, toolCallId, messageId: "bad-step", usage: { input: -1 } })).rejects.toThrow(/must not be negative/);
    expect(existsSync(join(ws, "never.txt"))).toBe(false);
    expect(await db.prisma.toolTrace.count({ where: { chatId, toolCallId } })).toBe(0);
  });

  test("two calls of one step with the same usage store it once", async () => {
    writeFileSync(join(ws, "a.txt"), "a\n");
    writeFileSync(join(ws, "b.txt"), "b\n");
    const usage = { anthropic: { input_tokens: 1000, output_tokens: 200, cache_read_input_tokens: 50 } };
    await call({ tool: readFileTool, input: { path: "a.txt" }, messageId: "step-1", usage });
    await call({ tool: readFileTool, input: { path: "b.txt" }, messageId: "step-1", usage });
    const steps = await db.prisma.modelStep.findMany({ where: { chatId } });
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ stepKey: "step-1", inputTokens: 1000, outputTokens: 200, cacheReadTokens: 50 });

    // Another step counts on its own.
    await call({ tool: readFileTool, input: { path: "a.txt" }, messageId: "step-2", usage: { input: 7, output: 3 } });
    const all = await db.prisma.modelStep.findMany({ where: { chatId }, orderBy: { stepKey: "asc" } });
    expect(all.map((s) => [s.stepKey, s.inputTokens, s.outputTokens])).toEqual([
      ["step-1", 1000, 200],
      ["step-2", 7, 3],
    ]);
  });
});

describe("a result saying failed", () => {
  const failing = (result: Record<string, unknown>) =>
    defineTool({
      name: "build",
      description: "returns what it is given",
      inputSchema: { type: "object" },
      zodSchema: z.object({}),
      async execute() {
        return { output: "src/a.mjs:3: boom\n[exit code 1; 12 ms]", ...result };
      },
    });

  test("finishes the trace as error with the output stored and the result's error; the caller gets isError and the result", async () => {
    const outcome = await call({ tool: failing({ failed: true, error: "build failed with exit code 1", exitCode: 1 }), input: {}, toolCallId: "call-failed" });
    expect(outcome).toMatchObject({ status: "error", isError: true, output: "src/a.mjs:3: boom\n[exit code 1; 12 ms]", result: { failed: true, exitCode: 1 } });
    expect(await traceOf("call-failed")).toMatchObject({ status: "error", error: "build failed with exit code 1", toolOutput: "src/a.mjs:3: boom\n[exit code 1; 12 ms]" });
  });

  test("without an error string the message is `<tool> failed`; failed: false is ok; a timeout wins over failed", async () => {
    expect(await call({ tool: failing({ failed: true }), input: {}, toolCallId: "call-failed-bare" })).toMatchObject({ status: "error", isError: true });
    expect(await traceOf("call-failed-bare")).toMatchObject({ status: "error", error: "build failed", toolOutput: "src/a.mjs:3: boom\n[exit code 1; 12 ms]" });

    expect(await call({ tool: failing({ failed: false, error: "ignored" }), input: {}, toolCallId: "call-not-failed" })).toMatchObject({ status: "ok", isError: false });
    expect(await traceOf("call-not-failed")).toMatchObject({ status: "ok", error: null });

    expect(await call({ tool: failing({ failed: true, timedOut: true, timeoutMs: 500 }), input: {}, toolCallId: "call-failed-timeout" })).toMatchObject({ status: "timeout" });
    expect(await traceOf("call-failed-timeout")).toMatchObject({ status: "timeout", error: "build timed out after 500 ms" });
  });
});

test("the owner run is stored on the trace", async () => {
  writeFileSync(join(ws, "a.txt"), "a\n");
  const ownerRunId = randomUUID();
  await call({ tool: readFileTool, input: { path: "a.txt" }, toolCallId: "call-owned", ownerRunId });
  expect(await traceOf("call-owned")).toMatchObject({ status: "ok", ownerRunId });
  await call({ tool: readFileTool, input: { path: "a.txt" }, toolCallId: "call-unowned" });
  expect(await traceOf("call-unowned")).toMatchObject({ ownerRunId: null });
});
