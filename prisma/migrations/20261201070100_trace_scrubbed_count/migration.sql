-- Secrets replaced by the scrubber in a trace's input, output and error (services/scrub-values.ts).
-- AlterTable
ALTER TABLE "tool_traces" ADD COLUMN     "scrubbed_count" INTEGER NOT NULL DEFAULT 0;
