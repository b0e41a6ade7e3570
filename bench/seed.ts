// Direct SQL for the baselines and the seeding: a raw multi-row INSERT of the same 500-row shape as
// recordToolTraces, and fast bulk seeding of a chat with INSERT … SELECT generate_series.
// Raw INSERTs into tool_traces keep chats' counters right through the table's statement-level
// triggers (migration chat_counters); no chat_events are written (the seeded rows are "imported").
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { lockDataDir } from "../server/db/data-dir-lock.js";
import { migrate } from "../server/db/migrate.js";

export interface RawDb {
  kind: "postgresql" | "pglite";
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function openPg(url: string): Promise<RawDb> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  return {
    kind: "postgresql",
    query: async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[],
    close: () => client.end(),
  };
}

/** A PGlite data folder laid out as Tracedeck's (DATA_DIR/pglite), under Tracedeck's own lock file. */
export async function openPgliteDataDir(dataDir: string, options: { migrate?: boolean } = {}): Promise<RawDb> {
  const lock = lockDataDir(dataDir);
  const db = await PGlite.create(join(dataDir, "pglite"));
  const raw: RawDb = {
    kind: "pglite",
    query: async <T>(sql: string, params: unknown[] = []) => (await db.query<T>(sql, params)).rows,
    close: async () => {
      await db.close();
      lock.release();
    },
  };
  if (options.migrate) {
    await migrate({ query: raw.query, exec: async (sql: string) => void (await db.exec(sql)), close: async () => {} });
  }
  return raw;
}

const BASE = Date.UTC(2026, 0, 1);

/** The items of one recordToolTraces batch: rows from..from+count of a synthetic agent session. */
export function batchItems(chatId: string, from: number, count: number) {
  return Array.from({ length: count }, (_, k) => {
    const j = from + k;
    const startedAt = new Date(BASE + j * 10);
    return {
      chatId,
      toolName: `tool_${j % 7}`,
      toolInput: { path: `src/file_${j}.ts` },
      messageId: `msg_${Math.floor(j / 3)}`,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date(startedAt.getTime() + (j % 97)).toISOString(),
      output: "ok",
      tokens: { input: 100, output: 20 },
    };
  });
}

/** The baseline: the same rows as batchItems, one multi-row INSERT, no checks, no events, no steps. */
export async function rawInsertBatch(db: RawDb, chatId: string, sessionId: string, from: number, count: number): Promise<void> {
  const values: string[] = [];
  const params: unknown[] = [];
  for (const item of batchItems(chatId, from, count)) {
    const at = params.length;
    params.push(randomUUID(), chatId, sessionId, item.messageId, item.toolName, JSON.stringify(item.toolInput), item.output, item.startedAt, item.finishedAt);
    const p = (i: number) => `$${at + i}`;
    values.push(
      `(${p(1)}::uuid, ${p(2)}::uuid, ${p(3)}::uuid, ${p(4)}, 1, ${p(5)}, ${p(6)}::jsonb, ${p(7)}, 2, ${p(8)}::timestamptz, true, ${p(9)}::timestamptz, 0, 'x', 'x', 'ok', 100, 20)`,
    );
  }
  await db.query(
    `INSERT INTO tool_traces (id, chat_id, session_id, message_id, turn_number, tool_name, tool_input, tool_output, output_bytes, started_at,
       started_at_from_client, finished_at, latency_ms, start_hash, finish_hash, status, input_tokens, output_tokens) VALUES ${values.join(",")}`,
    params,
  );
}

/** A chat row for a database Tracedeck's API does not serve (the raw baseline's own PGlite). */
export async function insertChat(db: RawDb, title: string): Promise<{ id: string; sessionId: string }> {
  const id = randomUUID();
  const sessionId = randomUUID();
  await db.query(`INSERT INTO chats (id, title, current_session_id) VALUES ($1, $2, $3)`, [id, title, sessionId]);
  return { id, sessionId };
}

/**
 * Adds `count` finished traces to a chat, numbered from `from`, 10 ms apart from 2025-01-01 (so
 * before any trace the API wrote), in chunks; one statement per chunk.
 */
export async function seedTraces(
  db: RawDb,
  chat: { id: string; sessionId: string },
  from: number,
  count: number,
  onChunk: (done: number) => void,
  chunk = 50_000,
): Promise<void> {
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    await db.query(
      `INSERT INTO tool_traces (id, chat_id, session_id, turn_number, tool_name, tool_input, tool_output, output_bytes, started_at,
         started_at_from_client, finished_at, latency_ms, start_hash, finish_hash, status)
       SELECT gen_random_uuid(), $1::uuid, $2::uuid, 1 + g / 1000, 'tool_' || (g % 7), jsonb_build_object('path', 'src/file_' || g || '.ts'), 'ok', 2,
              timestamptz '2025-01-01 00:00:00+00' + g * interval '10 milliseconds', true,
              timestamptz '2025-01-01 00:00:00+00' + g * interval '10 milliseconds' + (g % 97) * interval '1 millisecond', g % 97, 'x', 'x', 'ok'
         FROM generate_series($3::int, $4::int) g`,
      [chat.id, chat.sessionId, from + done, from + done + n - 1],
    );
    onChunk(done + n);
  }
}

/** Milliseconds for one page of 50 whole rows at `offset`, by SQL OFFSET (the baseline beside the keyset page). */
export async function offsetPageMs(db: RawDb, chatId: string, offset: number): Promise<number> {
  const t0 = performance.now();
  await db.query(`SELECT * FROM tool_traces WHERE chat_id = $1 ORDER BY started_at, id OFFSET $2 LIMIT 50`, [chatId, offset]);
  return performance.now() - t0;
}

/** The row just before `depth` in the chat's trace order (a deep cursor's position) and the row at `depth`. */
export async function rowsAround(db: RawDb, chatId: string, depth: number) {
  const rows = await db.query<{ started_at: Date | string; id: string }>(
    `SELECT started_at, id FROM tool_traces WHERE chat_id = $1 ORDER BY started_at, id OFFSET $2 LIMIT 2`,
    [chatId, depth - 1],
  );
  const [before, at] = rows;
  if (!before || !at) throw new Error(`the chat has fewer than ${depth + 1} traces`);
  return { before: { startedAtMs: new Date(before.started_at).getTime(), id: before.id }, atDepth: { id: at.id } };
}

/** Milliseconds for one page of 50 whole rows by keyset seek in SQL (what the connection should cost). */
export async function keysetPageMs(db: RawDb, chatId: string, after: { startedAtMs: number; id: string }): Promise<number> {
  const t0 = performance.now();
  await db.query(
    `SELECT * FROM tool_traces WHERE chat_id = $1 AND (started_at, id) > ($2::timestamptz, $3::uuid) ORDER BY started_at, id LIMIT 50`,
    [chatId, new Date(after.startedAtMs).toISOString(), after.id],
  );
  return performance.now() - t0;
}
