import { getPrisma } from "../../db/client.js";
import type { TokenTotals } from "../types/ChatStats.js";
import { batchLoader, distinct } from "./batch.js";

const zero = (): TokenTotals => ({ input: 0n, output: 0n, cacheRead: 0n, cacheWrite: 0n, reasoning: 0n });
const keyOf = (chatId: string) => chatId;

/** Chat.stats.tokens for every chat of a page: one grouped sum over model_steps. */
export const chatTokensLoader = () =>
  batchLoader<string, TokenTotals>(
    async (chatIds) => {
      const ids = distinct(chatIds, keyOf);
      const rows = await getPrisma().$queryRaw<(TokenTotals & { chatId: string })[]>`
        SELECT chat_id::text AS "chatId",
               coalesce(sum(input_tokens), 0)::bigint AS "input", coalesce(sum(output_tokens), 0)::bigint AS "output",
               coalesce(sum(cache_read_tokens), 0)::bigint AS "cacheRead", coalesce(sum(cache_write_tokens), 0)::bigint AS "cacheWrite",
               coalesce(sum(reasoning_tokens), 0)::bigint AS "reasoning"
          FROM model_steps WHERE chat_id = ANY(${ids}::uuid[])
         GROUP BY chat_id`;
      return new Map(rows.map(({ chatId, ...totals }) => [chatId, totals]));
    },
    keyOf,
    // A chat without steps sums to zero, as the per-chat sum did.
    zero,
  );
