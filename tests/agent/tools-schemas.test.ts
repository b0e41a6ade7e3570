// The file tools' JSON schemas (what the model sees) and zod schemas (what is checked) agree.
import { describe, expect, test } from "vitest";
import { editFileTool, fileTools, listFilesTool, readFileTool, ToolInputError, writeFileTool, type JsonSchema } from "../../server/agent/tools/index.js";
import { makeTempDir, removeDir } from "./helpers.js";

/** A checker for the subset of JSON Schema the tools use (enough to compare with zod on samples). */
function jsonSchemaAccepts(schema: JsonSchema, value: unknown): boolean {
  switch (schema.type) {
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
      const record = value as Record<string, unknown>;
      const properties = schema.properties ?? {};
      if ((schema.required ?? []).some((key) => !(key in record))) return false;
      for (const [key, item] of Object.entries(record)) {
        const property = properties[key];
        if (property === undefined) {
          if (schema.additionalProperties === false) return false;
          continue;
        }
        if (!jsonSchemaAccepts(property, item)) return false;
      }
      return true;
    }
    case "string":
      if (typeof value !== "string") return false;
      if (schema.minLength !== undefined && [...value].length < schema.minLength) return false;
      if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) return false;
      return true;
    case "integer":
      if (typeof value !== "number" || !Number.isInteger(value)) return false;
      if (schema.minimum !== undefined && value < schema.minimum) return false;
      if (schema.maximum !== undefined && value > schema.maximum) return false;
      return true;
    case "boolean":
      return typeof value === "boolean";
    default:
      throw new Error(`unsupported schema ${JSON.stringify(schema)}`);
  }
}

const samples: Record<string, unknown[]> = {
  read_file: [
    { path: "a.txt" },
    { path: "a.txt", startLine: 2, endLine: 5, maxBytes: 100 },
    { path: "" },
    { path: "a\0b" },
    { path: "a.txt", startLine: 0 },
    { path: "a.txt", startLine: 1.5 },
    { path: "a.txt", maxBytes: 2_000_000 },
    { path: "a.txt", extra: true },
    { startLine: 1 },
    { path: 3 },
    "a.txt",
    null,
  ],
  write_file: [{ path: "a.txt", content: "" }, { path: "a.txt", content: "x" }, { path: "a.txt" }, { path: "a.txt", content: 1 }, { path: "", content: "x" }, { path: "a", content: "x", mode: 1 }],
  edit_file: [
    { path: "a.txt", oldText: "x", newText: "" },
    { path: "a.txt", oldText: "", newText: "y" },
    { path: "a.txt", oldText: "x" },
    { path: "a.txt", oldText: "x", newText: null },
  ],
  list_files: [
    {},
    { path: "src", maxEntries: 5000, depth: 1, includeSkipped: true },
    { maxEntries: 5001 },
    { maxEntries: 0 },
    { depth: 0 },
    { includeSkipped: "yes" },
    { path: "" },
    { recursive: true },
  ],
};

describe("tool schemas", () => {
  test("the four tools, with distinct names and object schemas", () => {
    expect(fileTools.map((t) => t.name)).toEqual(["read_file", "write_file", "edit_file", "list_files"]);
    for (const tool of fileTools) {
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.inputSchema.additionalProperties).toBe(false);
      expect(tool.description.length).toBeGreaterThan(20);
    }
  });

  test.each([readFileTool, writeFileTool, editFileTool, listFilesTool].map((t) => [t.name, t] as const))("%s: JSON schema and zod agree on samples", (name, tool) => {
    const list = samples[name]!;
    expect(list.some((s) => tool.zodSchema.safeParse(s).success)).toBe(true);
    expect(list.some((s) => !tool.zodSchema.safeParse(s).success)).toBe(true);
    for (const sample of list) {
      expect({ sample, accepted: jsonSchemaAccepts(tool.inputSchema, sample) }).toEqual({ sample, accepted: tool.zodSchema.safeParse(sample).success });
    }
  });

  test("zod checks what JSON schema cannot say: endLine before startLine", () => {
    const sample = { path: "a.txt", startLine: 5, endLine: 4 };
    expect(jsonSchemaAccepts(readFileTool.inputSchema, sample)).toBe(true);
    expect(() => readFileTool.parse(sample)).toThrow(/endLine: must not be before startLine/);
  });

  test("bad input is refused with a ToolInputError naming the field, before touching the files", async () => {
    const ws = makeTempDir();
    try {
      const error = await editFileTool.run({ path: "a.txt", oldText: "", newText: "x" }, { workspace: ws }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ToolInputError);
      expect((error as ToolInputError).code).toBe("INVALID_TOOL_INPUT");
      expect((error as ToolInputError).tool).toBe("edit_file");
      expect((error as Error).message).toMatch(/oldText: must not be empty/);
      await expect(writeFileTool.run({ path: "a.txt" }, { workspace: ws })).rejects.toThrow(/content/);
    } finally {
      removeDir(ws);
    }
  });
});
