/** The agent's file tools. */
import { editFileTool } from "./edit-file.js";
import { listFilesTool } from "./list-files.js";
import { readFileTool } from "./read-file.js";
import type { AgentTool } from "./tool.js";
import { writeFileTool } from "./write-file.js";

export { editFileTool, listFilesTool, readFileTool, writeFileTool };
export * from "./tool.js";

/** What a caller that does not know the tool needs: its definition and run. */
export type AnyAgentTool = Pick<AgentTool, "name" | "description" | "inputSchema" | "run">;

export const fileTools: readonly AnyAgentTool[] = [readFileTool, writeFileTool, editFileTool, listFilesTool];
