import { getPrisma } from "../../db/client.js";
import { batchLoader, distinct } from "./batch.js";

/** A model step's calls: one message id, within the one turn its calls are made in. */
export interface StepCallsKey {
  chatId: string;
  turnNumber: number;
  messageId: string;
}

const keyOf = (k: StepCallsKey) => JSON.stringify([k.chatId, k.turnNumber, k.messageId]);

/**
 * ModelStep.toolCallCount for every trace of a page: one grouped count over tool_traces, each key
 * found on the (chat_id, turn_number) index. A semi-join, so a key asked twice is counted once.
 */
export const stepToolCallsLoader = () =>
  batchLoader<StepCallsKey, number>(
    async (steps) => {
      const keys = distinct(steps, keyOf);
      const rows = await getPrisma().$queryRaw<(StepCallsKey & { count: number })[]>`
        SELECT chat_id::text AS "chatId", turn_number AS "turnNumber", message_id AS "messageId", count(*)::int AS "count"
          FROM tool_traces
         WHERE (chat_id, turn_number, message_id) IN (
                 SELECT * FROM unnest(${keys.map((k) => k.chatId)}::uuid[], ${keys.map((k) => k.turnNumber)}::int[], ${keys.map((k) => k.messageId)}::text[]))
         GROUP BY chat_id, turn_number, message_id`;
      return new Map(rows.map((row) => [keyOf(row), row.count]));
    },
    keyOf,
    // No row: none counted, as the per-trace count answered (its trace deleted since the page was read).
    () => 0,
  );
