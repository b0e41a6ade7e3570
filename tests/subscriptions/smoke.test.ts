import { afterAll, beforeAll, expect, test } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { execute, startTestApp, subscribe, type TestApp, wsClient } from "../helpers/app.js";

let db: TestDatabase;
let t: TestApp;
beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

test("chatEvents opens with the snapshot and streams a trace's start and finish", async () => {
  const created = await execute(t.app, `mutation { createChat(input: {title: "s"}) { ... on Chat { id uuid } } }`);
  const chatId = created.data!.createChat.id as string;
  const client = wsClient(t.wsUrl);
  const sub = subscribe(client, `subscription($id: ID!) { chatEvents(chatId: $id) { __typename ... on ChatStreamOpening { seq cursor snapshot { turn } } ... on ChatEvent { seq kind trace { status toolName } } } }`, { id: chatId });
  await sub.until((items) => items.length >= 1);
  const started = await execute(t.app, `mutation($c: ID!) { startToolTrace(input: {chatId: $c, toolName: "run_command"}) { ... on ToolTrace { id } ... on Error { message } } }`, { c: chatId });
  const traceId = started.data!.startToolTrace.id as string;
  await execute(t.app, `mutation($t: ID!) { finishToolTrace(input: {traceId: $t, output: "ok"}) { ... on ToolTrace { status } ... on Error { message } } }`, { t: traceId });
  const items = await sub.until((items) => items.length >= 3);
  expect(items.map((i) => i.data!.chatEvents.__typename)).toEqual(["ChatStreamOpening", "ChatEvent", "ChatEvent"]);
  expect(items[1]!.data!.chatEvents).toMatchObject({ seq: 2, kind: "trace_started" });
  expect(items[2]!.data!.chatEvents).toMatchObject({ seq: 3, kind: "trace_finished", trace: { status: "ok" } });
  sub.dispose();
  await client.dispose();
});
