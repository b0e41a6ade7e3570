import { getPrisma } from "../../db/client.js";
import type { AgentMessage } from "../../db/generated/prisma/client.js";
import { batchLoader, distinct } from "./batch.js";

export interface TurnKey {
  chatId: string;
  turnNumber: number;
}

/** At most this many messages per turn, in order, as AgentTurn.messages always answered. */
export const MAX_TURN_MESSAGES = 500;

const keyOf = (k: TurnKey) => `${k.chatId}:${k.turnNumber}`;

/**
 * AgentTurn.messages for every turn of Chat.agentTurns: one statement for all the turns, each
 * turn's first MAX_TURN_MESSAGES by (created_at, id) picked with a window (a findMany can only
 * limit the whole result). The (chat_id, turn_number) index finds the rows.
 */
export const agentMessagesLoader = () =>
  batchLoader<TurnKey, AgentMessage[]>(
    async (turns) => {
      const keys = distinct(turns, keyOf);
      const rows = await getPrisma().$queryRaw<AgentMessage[]>`
        SELECT id::text AS "id", chat_id::text AS "chatId", turn_number AS "turnNumber", kind::text AS "kind", text, created_at AS "createdAt"
          FROM (SELECT m.*, row_number() OVER (PARTITION BY chat_id, turn_number ORDER BY created_at, id) AS position
                  FROM agent_messages m
                 WHERE (chat_id, turn_number) IN (SELECT * FROM unnest(${keys.map((k) => k.chatId)}::uuid[], ${keys.map((k) => k.turnNumber)}::int[]))) ranked
         WHERE position <= ${MAX_TURN_MESSAGES}
         ORDER BY ranked.chat_id, ranked.turn_number, position`;
      const byTurn = new Map<string, AgentMessage[]>();
      for (const row of rows) {
        const list = byTurn.get(keyOf(row));
        if (list) list.push(row);
        else byTurn.set(keyOf(row), [row]);
      }
      return byTurn;
    },
    keyOf,
    () => [],
  );
