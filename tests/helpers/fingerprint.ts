import type { PrismaClient } from "../../server/db/generated/prisma/client.js";

const TABLES = [
  "chats",
  "tool_traces",
  "model_steps",
  "chat_events",
  "agent_snapshots",
  "agent_snapshot_revisions",
  "agent_settings",
  "agent_turns",
  "agent_messages",
  "agent_file_journal",
  "ingest_sessions",
  "ingest_transcripts",
] as const;

/**
 * A digest of every row of every Tracedeck table: equal before and after an operation means it
 * wrote nothing at all (no row, no event, no counter or last_activity_at change).
 */
export async function databaseFingerprint(prisma: PrismaClient): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const [row] = await prisma.$queryRawUnsafe<{ n: bigint; digest: string | null }[]>(
      `SELECT count(*) AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM ${table} t`,
    );
    out[table] = `${row!.n}:${row!.digest ?? ""}`;
  }
  return out;
}
