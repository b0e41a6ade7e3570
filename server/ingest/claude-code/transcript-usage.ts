/**
 * Token usage from a Claude Code session's transcripts: after a Stop, the new lines of each of the
 * chat's transcripts (the session's, and its subagents' from SubagentStop) are read from the offset
 * reached last time, and each model step's usage is stored once, joined to the calls it made.
 *
 * The path comes from whoever posted the hook: only regular *.jsonl files whose real path lies
 * under CLAUDE_PROJECTS_DIR are read, at most readMaxBytes per hook (transcript-file.ts).
 */
import type { ClaudeCodeConfig } from "../../config.js";
import type { Logger } from "../../logger.js";
import type { Services } from "../../services/index.js";
import { parseTranscript, usageSteps } from "./transcript.js";
import { TranscriptRefusedError, readTranscriptChunk } from "./transcript-file.js";

export interface TranscriptUsageInput {
  services: Pick<Services, "traces" | "ingestSessions">;
  config: ClaudeCodeConfig;
  log: Logger;
  chatId: string;
  /** Transcripts the hook named; the chat's known ones are read too. */
  transcripts: string[];
}

export async function readTranscriptUsage(input: TranscriptUsageInput): Promise<{ steps: number; bytes: number }> {
  const { services, config, log, chatId } = input;
  const known = await services.ingestSessions.transcriptsOf(chatId);
  const paths = [...new Set([...input.transcripts, ...known])];
  let budget = config.readMaxBytes;
  let steps = 0;
  let bytes = 0;
  for (const file of paths) {
    if (budget <= 0) break;
    const offset = await services.ingestSessions.transcriptOffset(chatId, file);
    let chunk;
    try {
      chunk = await readTranscriptChunk({ path: file, projectsDir: config.projectsDir, offset, maxBytes: budget });
    } catch (error) {
      if (!(error instanceof TranscriptRefusedError)) throw error;
      log.warn("claude_code.transcript_refused", { chatId, reason: error.reason, message: error.message });
      continue;
    }
    budget -= chunk.nextOffset - (chunk.restarted ? 0 : offset);
    bytes += chunk.text.length;
    const found = usageSteps(parseTranscript(chunk.text, { source: file }));
    if (found.length > 0) {
      await services.traces.attachStepUsage(
        chatId,
        found.map((step) => ({ stepKey: step.key, tokens: step.tokens, toolCallIds: step.toolUseIds })),
      );
      steps += found.length;
    }
    await services.ingestSessions.setTranscriptOffset(chatId, file, chunk.nextOffset);
  }
  return { steps, bytes };
}
