/** The agent's tools: the file tools and run_command. */
import { editFileTool } from "./edit-file.js";
import { listFilesTool } from "./list-files.js";
import { readFileTool } from "./read-file.js";
import { runCommandTool } from "./run-command.js";
import type { AgentTool } from "./tool.js";
import { writeFileTool } from "./write-file.js";

export { editFileTool, listFilesTool, readFileTool, runCommandTool, writeFileTool };
export * from "./tool.js";

/** What a caller that does not know the tool needs: its definition and run. */
export type AnyAgentTool = Pick<AgentTool, "name" | "description" | "inputSchema" | "run">;

export const fileTools: readonly AnyAgentTool[] = [readFileTool, writeFileTool, editFileTool, listFilesTool];

/** Every tool the agent is given: the file tools, then run_command. */
export const agentTools: readonly AnyAgentTool[] = [...fileTools, runCommandTool];
