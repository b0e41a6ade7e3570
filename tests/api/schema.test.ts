// schema.graphql at the root is the printed, sorted schema of the code (issue 3, "Server").
import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { promisify } from "node:util";
import { buildSchema, type DefinitionNode, lexicographicSortSchema, parse, printSchema } from "graphql";
import { expect, test } from "vitest";
import { schema } from "../../server/schema/index.js";

const committedPath = new URL("../../schema.graphql", import.meta.url);
const committed = () => readFileSync(committedPath, "utf8");
const nameOf = (d: DefinitionNode) => ("name" in d && d.name ? d.name.value : "");

test("importing print.ts writes nothing; its printed schema equals the committed schema.graphql", async () => {
  const before = statSync(committedPath);
  const contentBefore = committed();
  const { printedSchema, schemaFile } = await import("../../server/schema/print.js");
  // No side effect on import: the file is untouched (the CLI runs only as the entry point).
  expect(statSync(committedPath).mtimeMs).toBe(before.mtimeMs);
  expect(committed()).toBe(contentBefore);
  expect(schemaFile).toBe(committedPath.pathname);
  const printed = printedSchema();
  expect(printed).toBe(`${printSchema(schema)}\n`);
  // The message names the fix: run `npm run schema:print` and commit schema.graphql.
  expect(committed(), "schema.graphql is out of date with server/schema: run `npm run schema:print`").toBe(printed);
});

test("the committed schema is sorted: types, and fields within each type, in lexicographic order", () => {
  const text = committed();
  const names = parse(text).definitions.map(nameOf);
  expect(names.length).toBeGreaterThan(30);
  expect(names).toEqual([...names].sort());
  // The whole document is what graphql-js's own sort prints, fields and arguments included.
  expect(`${printSchema(lexicographicSortSchema(buildSchema(text)))}\n`).toBe(text);
});

test("the schema has the operations issue 3 asks for", () => {
  const fields = (type: string) => Object.keys((schema.getType(type) as { getFields(): Record<string, unknown> }).getFields()).sort();
  expect(fields("Query")).toEqual(["agentStatus", "apiKeys", "chat", "chats", "node", "nodes", "retention"]);
  expect(fields("Mutation")).toEqual(
    [
      "cancelTurn",
      "createApiKey",
      "createChat",
      "deleteChat",
      "deleteSnapshot",
      "finishToolTrace",
      "recordToolTraces",
      "renameChat",
      "restoreSnapshot",
      "revokeApiKey",
      "saveSnapshot",
      "sendMessage",
      "startToolTrace",
      "updateAgentSettings",
    ].sort(),
  );
  expect(fields("Subscription")).toEqual(expect.arrayContaining(["chatEvents", "chatsActivity", "snapshotSaved", "toolTraceFinished", "toolTraceStarted"]));
  // Token totals use a scalar that holds values past 2^31.
  const totals = schema.getType("TokenTotals") as { getFields(): Record<string, { type: { toString(): string } }> };
  for (const field of ["input", "output", "cacheRead", "cacheWrite", "reasoning", "tokensUsed"]) expect(totals.getFields()[field]!.type.toString()).toBe("BigInt!");
});

test("npm run schema:check agrees (the CLI, as CI runs it)", async () => {
  const before = statSync(committedPath).mtimeMs;
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "server/schema/print.ts", "--check"], {
    cwd: new URL("../..", import.meta.url).pathname,
  });
  expect(stdout).toContain("in sync");
  expect(statSync(committedPath).mtimeMs).toBe(before); // --check only reads
});
