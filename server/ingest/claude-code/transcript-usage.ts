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

const STEPS_PER_WRITE = 500;

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
    // Steps the services would refuse (an id past its length limit) are left out rather than
    // failing the chunk, whose offset would then never move; batches keep each transaction short.
    const found = usageSteps(parseTranscript(chunk.text, { source: file }))
      .filter((step) => step.key.length <= 512)
      .map((step) => ({ stepKey: step.key, tokens: step.tokens, toolCallIds: step.toolUseIds.filter((id) => id.length <= 512).slice(0, 1000) }));
    for (let i = 0; i < found.length; i += STEPS_PER_WRITE) {
      await services.traces.attachStepUsage(chatId, found.slice(i, i + STEPS_PER_WRITE));
    }
    steps += found.length;
    await services.ingestSessions.setTranscriptOffset(chatId, file, chunk.nextOffset);
  }
  return { steps, bytes };
}
