import { afterAll, beforeAll, expect, test } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { createServiceHarness, type ServiceHarness } from "../helpers/services.js";

let db: TestDatabase;
let h: ServiceHarness;
beforeAll(async () => {
  db = await createTestDatabase();
  h = createServiceHarness(db);
});
afterAll(async () => {
  h?.published.stop();
  await db?.destroy();
});

test("a chat, a trace started and finished, a snapshot", async () => {
  const chat = await h.services.chats.create({ title: "smoke" });
  const trace = await h.services.traces.start({ chatId: chat.id, toolName: "read_file", toolInput: { path: "a.ts" } });
  const done = await h.services.traces.finish({ traceId: trace.id, output: "hello", tokens: { input: 5, output: 3 } });
  expect(done.status).toBe("ok");
  const rev = await h.services.snapshots.save({ chatId: chat.id, state: { messages: [] } });
  expect(rev.turn).toBe(1);
  const events = await h.published.settle();
  expect(events.map((e) => [e.seq, e.kind])).toEqual([
    [1, "chat_created"],
    [2, "trace_started"],
    [3, "trace_finished"],
    [4, "snapshot_saved"],
  ]);
});
