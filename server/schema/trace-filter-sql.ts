import { Prisma } from "../db/generated/prisma/client.js";
import { toolNamesOf, type TraceFilterInput } from "./types/ToolTrace.js";

/**
 * The SQL condition of Chat.traces' filter, for the reads Prisma's query API cannot express
 * (window functions): the same rows as whereOf() selects.
 */
export function traceFilterSql(chatId: string, filter: TraceFilterInput | null | undefined): Prisma.Sql {
  const parts: Prisma.Sql[] = [Prisma.sql`chat_id = ${chatId}::uuid`];
  const toolNames = toolNamesOf(filter);
  if (toolNames) parts.push(Prisma.sql`tool_name IN (${Prisma.join(toolNames)})`);
  if (filter?.statuses?.length) parts.push(Prisma.sql`status::text IN (${Prisma.join(filter.statuses)})`);
  if (filter?.turnFrom != null) parts.push(Prisma.sql`turn_number >= ${filter.turnFrom}`);
  if (filter?.turnTo != null) parts.push(Prisma.sql`turn_number <= ${filter.turnTo}`);
  if (filter?.minLatencyMs != null) parts.push(Prisma.sql`latency_ms >= ${filter.minLatencyMs}`);
  if (filter?.startedFrom) parts.push(Prisma.sql`started_at >= ${filter.startedFrom}`);
  if (filter?.startedBefore) parts.push(Prisma.sql`started_at < ${filter.startedBefore}`);
  return Prisma.join(parts, " AND ");
}
