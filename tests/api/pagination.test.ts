// Keyset pagination (issue 3, "Pagination" in Done when): 1,000 traces, many sharing a startedAt,
// paged forwards and backwards with several page sizes while other traces are inserted between
// and during pages and the cursor's own row is deleted. Each trace present when the walk started
// (and not deleted) is seen exactly once and in (startedAt, id) order. Runs on both backends.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type GraphQLResponse, startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { type ChatIds, codesOf, createChat, dataOf, recordingLogger, recordTraces, type Run, transports } from "../helpers/graphql-fixtures.js";

let db: TestDatabase;
let t: TestApp;
let inProcess: Run;
let http: Run;
let walkChat: ChatIds;
let records: Record<string, any>[];

/** Ten distinct start times, 100 traces each. */
const BASE = Date.UTC(2026, 0, 1);
const STAMPS = Array.from({ length: 10 }, (_, i) => BASE + i * 60_000);

beforeAll(async () => {
  db = await createTestDatabase();
  const recording = recordingLogger();
  records = recording.records;
  t = await startTestApp(db, { log: recording.log });
  [[, inProcess], [, http]] = transports(() => t) as [[string, Run], [string, Run]];
  walkChat = await createChat(inProcess, "walk");
  // Recorded in a shuffled start order, so insert order and id order tell nothing.
  const items = Array.from({ length: 1000 }, (_, i) => ({ chatId: walkChat.id, toolName: `tool_${i % 7}`, startedAt: new Date(STAMPS[(i * 7) % 10]!).toISOString() }));
  await recordTraces(inProcess, items);
});
afterAll(async () => {
  // Nothing went wrong inside the server along the way.
  expect(records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
  await t?.stop();
  await db?.destroy();
});

/** A trace's place in the order: (startedAt, id). PostgreSQL orders uuids as their lower-case hex text. */
interface Key {
  at: number;
  id: string;
}
const compare = (a: Key, b: Key) => (a.at !== b.at ? a.at - b.at : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const keyOf = (node: { uuid: string; startedAt: string }): Key => ({ at: Date.parse(node.startedAt), id: node.uuid });

const PAGE = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $filter: TraceFilter) {
  chat(id: $id) { traces(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    edges { cursor node { uuid startedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }
}`;

async function storedKeys(chatId: string): Promise<Key[]> {
  const rows = await db.prisma.toolTrace.findMany({ where: { chatId }, select: { id: true, startedAt: true } });
  return rows.map((r) => ({ at: r.startedAt.getTime(), id: r.id })).sort(compare);
}

let insertCounter = 0;
/** Inserts traces at the given start times through recordToolTraces; returns their keys. */
async function insertAt(run: Run, times: number[]): Promise<Key[]> {
  const recorded = await recordTraces(
    run,
    times.map((at) => ({ chatId: walkChat.id, toolName: `inserted_${insertCounter++}`, startedAt: new Date(at).toISOString() })),
  );
  return recorded.map((r) => ({ at: Date.parse(r.startedAt), id: r.uuid }));
}

async function deleteTrace(id: string): Promise<void> {
  expect(await db.prisma.$executeRaw`DELETE FROM tool_traces WHERE id = ${id}::uuid`).toBe(1);
}

interface WalkOptions {
  direction: "forward" | "backward";
  size: number;
  /** Inserts and deletes after every `every` pages. */
  every: number;
  run: Run;
}

/**
 * Walks the whole connection. Between pages: traces are inserted before, at and beyond the walk's
 * position (their visibility is then exactly known), the cursor's own row is deleted, and so is a
 * row not yet seen; during the next page's read, more traces are inserted concurrently.
 */
async function walk({ direction, size, every, run }: WalkOptions) {
  const forward = direction === "forward";
  /** Ahead in the walk's direction. */
  const ahead = (a: Key, b: Key) => (forward ? compare(a, b) > 0 : compare(a, b) < 0);
  const initial = await storedKeys(walkChat.uuid);
  const deleted = new Set<string>();
  const insertedAhead: Key[] = [];
  const insertedBehind: Key[] = [];
  const concurrent: Key[] = [];
  const seen: Key[] = [];
  let cursor: string | null = null;
  let pages = 0;
  let cursorRowsDeleted = 0;

  for (;;) {
    const variables: Record<string, unknown> = forward ? { id: walkChat.id, first: size, after: cursor } : { id: walkChat.id, last: size, before: cursor };
    const concurrentInsert = pages > 0 && pages % every === 0 ? insertAt(run, [STAMPS[0]! - 1000, STAMPS[9]! + 1000, STAMPS[(pages * 3) % 10]!]) : Promise.resolve([]);
    const [response, added]: [GraphQLResponse, Key[]] = await Promise.all([run(PAGE, variables), concurrentInsert]);
    concurrent.push(...added);
    const connection: any = dataOf(response).chat.traces;
    const nodes: Key[] = connection.edges.map((e: any) => keyOf(e.node));
    // Each edge's cursor is its own: the page's start and end cursors are the first and last edges'.
    if (nodes.length) {
      expect(connection.pageInfo.startCursor).toBe(connection.edges[0].cursor);
      expect(connection.pageInfo.endCursor).toBe(connection.edges.at(-1).cursor);
    }
    expect(nodes.length).toBeLessThanOrEqual(size);
    seen.push(...(forward ? nodes : [...nodes].reverse()));
    pages++;
    const more = forward ? connection.pageInfo.hasNextPage : connection.pageInfo.hasPreviousPage;
    if (!more) break;
    expect(nodes.length).toBe(size); // only the last page is short
    expect(pages).toBeLessThan(5000);
    cursor = forward ? connection.pageInfo.endCursor : connection.pageInfo.startCursor;
    const position = seen.at(-1)!;

    if (pages % every === 0) {
      // Inserted before, at (a shared startedAt: its id decides) and beyond the position.
      const added = await insertAt(run, [position.at - 60_000, position.at + 60_000, position.at, position.at, forward ? position.at + 1 : position.at - 1]);
      for (const key of added) (ahead(key, position) ? insertedAhead : insertedBehind).push(key);
      // The cursor's own row goes away; the next page must still start right after it.
      await deleteTrace(position.id);
      deleted.add(position.id);
      cursorRowsDeleted++;
      // And a row the walk has not reached yet.
      const unseen = initial.find((k) => ahead(k, position) && !deleted.has(k.id));
      if (unseen && pages % (2 * every) === 0) {
        await deleteTrace(unseen.id);
        deleted.add(unseen.id);
      }
    }
  }

  // In order, strictly: nothing twice.
  for (let i = 1; i < seen.length; i++) expect(ahead(seen[i]!, seen[i - 1]!), `${JSON.stringify(seen[i - 1])} then ${JSON.stringify(seen[i])}`).toBe(true);
  const seenIds = new Set(seen.map((k) => k.id));
  expect(seenIds.size).toBe(seen.length);
  // Every trace present at the start and not deleted before the walk reached it.
  const missing = initial.filter((k) => !seenIds.has(k.id) && !deleted.has(k.id));
  expect(missing, "traces present at the start that were never seen").toEqual([]);
  // Traces inserted beyond the position are seen; those behind it are not.
  expect(insertedAhead.filter((k) => !seenIds.has(k.id) && !deleted.has(k.id))).toEqual([]);
  expect(insertedBehind.filter((k) => seenIds.has(k.id))).toEqual([]);
  // Nothing else appears: only the starting traces and the ones inserted meanwhile.
  const known = new Set([...initial, ...insertedAhead, ...insertedBehind, ...concurrent].map((k) => k.id));
  expect(seen.filter((k) => !known.has(k.id))).toEqual([]);
  // The walk did exercise what it claims to.
  expect(cursorRowsDeleted).toBeGreaterThan(0);
  expect(insertedAhead.length).toBeGreaterThan(0);
  expect(insertedBehind.length).toBeGreaterThan(0);
  expect(initial.length).toBeGreaterThanOrEqual(1000);
  return { seen, pages };
}

describe("Chat.traces: a walk over 1,000 traces sharing ten start times, while it changes", () => {
  test("the chat starts with 1,000 traces on ten distinct startedAt values", async () => {
    const keys = await storedKeys(walkChat.uuid);
    expect(keys).toHaveLength(1000);
    expect(new Set(keys.map((k) => k.at)).size).toBe(10);
  });

  test.each([
    ["forward", 1, 40, "in-process"],
    ["backward", 1, 40, "http"],
    ["forward", 7, 6, "http"],
    ["backward", 7, 6, "in-process"],
    ["forward", 50, 1, "in-process"],
    ["backward", 50, 1, "http"],
    ["forward", 500, 1, "http"],
    ["backward", 500, 1, "in-process"],
  ] as const)("%s, %i per page (changes every %i pages, %s)", async (direction, size, every, via) => {
    await walk({ direction, size, every, run: via === "http" ? http : inProcess });
  });

  test("an undisturbed walk sees exactly the stored order, both ways", async () => {
    const stored = await storedKeys(walkChat.uuid);
    for (const forward of [true, false]) {
      const seen: Key[] = [];
      let cursor: string | null = null;
      for (;;) {
        const connection: any = dataOf(await inProcess(PAGE, forward ? { id: walkChat.id, first: 113, after: cursor } : { id: walkChat.id, last: 113, before: cursor })).chat.traces;
        const nodes = connection.edges.map((e: any) => keyOf(e.node));
        seen.push(...(forward ? nodes : nodes.reverse()));
        if (!(forward ? connection.pageInfo.hasNextPage : connection.pageInfo.hasPreviousPage)) break;
        cursor = forward ? connection.pageInfo.endCursor : connection.pageInfo.startCursor;
      }
      expect(seen).toEqual(forward ? stored : [...stored].reverse());
    }
  });
});

describe("page sizes", () => {
  const traces = (args: Record<string, unknown>) => inProcess(PAGE, { id: walkChat.id, ...args });

  test("the default page is 50, from the start (first) or the end (last)", async () => {
    const stored = await storedKeys(walkChat.uuid);
    const first = dataOf(await traces({})).chat.traces;
    expect(first.edges.map((e: any) => keyOf(e.node))).toEqual(stored.slice(0, 50));
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const last = dataOf(await traces({ before: first.pageInfo.endCursor })).chat.traces;
    // before alone pages backwards with the default size: the 49 before the 50th.
    expect(last.edges.map((e: any) => keyOf(e.node))).toEqual(stored.slice(0, 49));
    const next = dataOf(await traces({ after: first.pageInfo.endCursor })).chat.traces;
    expect(next.edges.map((e: any) => keyOf(e.node))).toEqual(stored.slice(50, 100));
  });

  test("500 is allowed; 501 is a typed error (PAGE_SIZE_INVALID), not a clamp; so is a negative size", async () => {
    expect(dataOf(await traces({ first: 500 })).chat.traces.edges).toHaveLength(500);
    expect(dataOf(await traces({ last: 500 })).chat.traces.edges).toHaveLength(500);
    for (const args of [{ first: 501 }, { last: 501 }, { first: 10_000 }, { first: -1 }, { last: -5 }]) {
      const response = await traces(args);
      expect(codesOf(response), JSON.stringify(args)).toEqual(["PAGE_SIZE_INVALID"]);
      expect(response.data?.chat ?? null).toBeNull(); // no partial page
    }
    const message = (await traces({ first: 501 })).errors![0]!.message;
    expect(message).toContain("500");
  });

  test("the other connections refuse a page above 500 the same way", async () => {
    expect(codesOf(await inProcess(`{ chats(first: 501) { edges { cursor } } }`))).toEqual(["PAGE_SIZE_INVALID"]);
    expect(codesOf(await inProcess(`query($id: ID!) { chat(id: $id) { snapshots(first: 501) { edges { cursor } } } }`, { id: walkChat.id }))).toEqual(["PAGE_SIZE_INVALID"]);
  });
});

describe("cursors are checked", () => {
  let otherChat: ChatIds;
  let traceCursor: string;
  beforeAll(async () => {
    otherChat = await createChat(inProcess, "other");
    await recordTraces(inProcess, [{ chatId: otherChat.id, toolName: "a" }, { chatId: otherChat.id, toolName: "b" }]);
    traceCursor = dataOf(await inProcess(PAGE, { id: walkChat.id, first: 3 })).chat.traces.pageInfo.endCursor;
  });

  const expectInvalid = async (response: GraphQLResponse) => {
    expect(codesOf(response)).toEqual(["INVALID_CURSOR"]);
    expect(response.data?.chat ?? null).toBeNull();
  };
  /** Each bad cursor is refused both as `after` and as `before`, in process and over HTTP. */
  const refusedOn = async (chatId: string, cursor: string, filter?: Record<string, unknown>) => {
    for (const run of [inProcess, http]) {
      await expectInvalid(await run(PAGE, { id: chatId, first: 5, after: cursor, filter }));
      await expectInvalid(await run(PAGE, { id: chatId, last: 5, before: cursor, filter }));
    }
  };

  test("a valid cursor works as after and before", async () => {
    expect(dataOf(await inProcess(PAGE, { id: walkChat.id, first: 2, after: traceCursor })).chat.traces.edges).toHaveLength(2);
    expect(dataOf(await inProcess(PAGE, { id: walkChat.id, last: 2, before: traceCursor })).chat.traces.edges).toHaveLength(2);
  });

  test("forged and tampered cursors", async () => {
    const [body, mac] = traceCursor.split(".") as [string, string];
    const decoded = JSON.parse(Buffer.from(body, "base64url").toString());
    // The same scope with another position, re-encoded, keeping the original signature.
    const moved = Buffer.from(JSON.stringify({ ...decoded, p: [decoded.p[0] + 1, decoded.p[1]] })).toString("base64url");
    const flipped = `${mac.slice(0, -1)}${mac.endsWith("A") ? "B" : "A"}`;
    for (const forged of ["abc", "abc.def", `${body}.`, `.${mac}`, `${moved}.${mac}`, `${body}.${flipped}`, `${body}.${mac}.x`, Buffer.from("OffsetConnection:3").toString("base64")]) {
      await refusedOn(walkChat.id, forged);
    }
  });

  test("a cursor issued for another chat", async () => {
    await refusedOn(otherChat.id, traceCursor);
  });

  test("a cursor issued for another filter; an equal filter written differently is the same", async () => {
    const filtered = dataOf(await inProcess(PAGE, { id: walkChat.id, first: 2, filter: { toolNames: ["tool_1", "tool_2"] } })).chat.traces.pageInfo.endCursor;
    await refusedOn(walkChat.id, filtered); // no filter
    await refusedOn(walkChat.id, filtered, { toolNames: ["tool_1"] });
    await refusedOn(walkChat.id, filtered, { toolNames: ["tool_1", "tool_2"], turnFrom: 1 });
    await refusedOn(walkChat.id, traceCursor, { statuses: ["ok"] });
    // The same filter with its names in another order is the same filter.
    const page = dataOf(await inProcess(PAGE, { id: walkChat.id, first: 2, after: filtered, filter: { toolNames: ["tool_2", "tool_1"] } })).chat.traces;
    expect(page.edges).toHaveLength(2);
  });

  test("a cursor of another list: chats, snapshots, events", async () => {
    const chatsCursor = dataOf(await inProcess(`{ chats(first: 1) { pageInfo { endCursor } } }`)).chats.pageInfo.endCursor;
    await inProcess(`mutation($c: ID!) { saveSnapshot(input: {chatId: $c, state: {}}) { __typename } }`, { c: walkChat.id });
    const snapshotCursor = dataOf(await inProcess(`query($id: ID!) { chat(id: $id) { snapshots(first: 1) { pageInfo { endCursor } } eventCursor } }`, { id: walkChat.id })).chat;
    await refusedOn(walkChat.id, chatsCursor);
    await refusedOn(walkChat.id, snapshotCursor.snapshots.pageInfo.endCursor);
    await refusedOn(walkChat.id, snapshotCursor.eventCursor);
    // And the other way round: a traces cursor is not a chats or snapshots cursor.
    expect(codesOf(await inProcess(`query($a: String) { chats(first: 1, after: $a) { edges { cursor } } }`, { a: traceCursor }))).toEqual(["INVALID_CURSOR"]);
    expect(codesOf(await inProcess(`query($a: String) { chats(first: 1, after: $a) { edges { cursor } } }`, { a: snapshotCursor.snapshots.pageInfo.endCursor }))).toEqual(["INVALID_CURSOR"]);
    expect(codesOf(await inProcess(`query($id: ID!, $a: String) { chat(id: $id) { snapshots(first: 1, after: $a) { edges { cursor } } } }`, { id: walkChat.id, a: traceCursor }))).toEqual([
      "INVALID_CURSOR",
    ]);
  });

  test("a cursor signed with another installation's secret", async () => {
    const other = await startTestApp(db, { listen: false, env: { CURSOR_SECRET: "another-installation-secret" } });
    try {
      const [, otherRun] = transports(() => other)[0]!;
      const foreign = dataOf(await otherRun(PAGE, { id: walkChat.id, first: 3 })).chat.traces.pageInfo.endCursor;
      expect(foreign).not.toBe(traceCursor);
      await refusedOn(walkChat.id, foreign);
      // And ours is refused there.
      expect(codesOf(await otherRun(PAGE, { id: walkChat.id, first: 3, after: traceCursor }))).toEqual(["INVALID_CURSOR"]);
    } finally {
      await other.stop();
    }
  });
});

describe("chats and snapshots page keyset-wise too", () => {
  test("chats: newest first, through ties on createdAt, while chats are created and the cursor's chat is deleted", async () => {
    const tag = `pg-chats-${Date.now()}`;
    const chats: ChatIds[] = [];
    for (let i = 0; i < 23; i++) chats.push(await createChat(inProcess, `${tag} ${i}`));
    // Three creation times shared by all 23.
    for (const [i, chat] of chats.entries()) await db.prisma.chat.update({ where: { id: chat.uuid }, data: { createdAt: new Date(BASE + (i % 3) * 1000) } });
    const initial = (await db.prisma.chat.findMany({ where: { title: { startsWith: tag } }, select: { id: true, createdAt: true } })).map((c) => ({ at: c.createdAt.getTime(), id: c.id }));
    expect(initial).toHaveLength(23);
    const query = `query($f: ChatFilter, $a: String) { chats(first: 4, after: $a, filter: $f) { edges { node { uuid createdAt } } pageInfo { hasNextPage endCursor } } }`;
    const seen: Key[] = [];
    const deleted = new Set<string>();
    let after: string | null = null;
    for (let page = 0; ; page++) {
      const connection: any = dataOf(await (page % 2 ? http : inProcess)(query, { f: { titleContains: tag }, a: after })).chats;
      seen.push(...connection.edges.map((e: any) => ({ at: Date.parse(e.node.createdAt), id: e.node.uuid })));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
      // A new chat is newer than every one listed: it is not on later pages.
      await createChat(inProcess, `${tag} new ${page}`);
      if (page === 1 || page === 3) {
        const position = seen.at(-1)!;
        const del = dataOf(await inProcess(`mutation($id: ID!) { deleteChat(id: $id) { __typename } }`, { id: position.id }));
        expect(del.deleteChat.__typename).toBe("DeleteChatPayload");
        deleted.add(position.id);
      }
    }
    for (let i = 1; i < seen.length; i++) expect(compare(seen[i]!, seen[i - 1]!)).toBeLessThan(0);
    expect(seen.map((k) => k.id).sort()).toEqual(initial.map((k) => k.id).sort());
    expect(deleted.size).toBe(2);
  });

  test("snapshots: newest turn first, while snapshots are saved and the cursor's revision is deleted", async () => {
    const chat = await createChat(inProcess, "snapshots walk");
    const save = async (turn?: number) =>
      dataOf(await inProcess(`mutation($input: SaveSnapshotInput!) { saveSnapshot(input: $input) { ... on SnapshotRevision { uuid turn } } }`, { input: { chatId: chat.id, state: { turn }, turn } })).saveSnapshot;
    for (let turn = 1; turn <= 17; turn++) await save();
    const query = `query($id: ID!, $a: String) { chat(id: $id) { snapshots(first: 5, after: $a) { edges { node { uuid turn } } pageInfo { hasNextPage endCursor } } } }`;
    const seen: { uuid: string; turn: number }[] = [];
    const deleted: number[] = [];
    let after: string | null = null;
    for (let page = 0; ; page++) {
      const connection: any = dataOf(await (page % 2 ? http : inProcess)(query, { id: chat.id, a: after })).chat.snapshots;
      seen.push(...connection.edges.map((e: any) => e.node));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
      await save(); // a newer turn: before the walk's position
      const position = seen.at(-1)!;
      const del = dataOf(await inProcess(`mutation($id: ID!) { deleteSnapshot(revisionId: $id) { __typename } }`, { id: position.uuid }));
      expect(del.deleteSnapshot.__typename).toBe("DeleteSnapshotPayload");
      deleted.push(position.turn);
    }
    expect(seen.map((s) => s.turn)).toEqual(Array.from({ length: 17 }, (_, i) => 17 - i));
    expect(deleted.length).toBeGreaterThanOrEqual(3);
    // Backwards from the end as well: the oldest remaining, still newest first within the page.
    const oldest = dataOf(await inProcess(`query($id: ID!) { chat(id: $id) { snapshots(last: 3) { edges { node { turn } } pageInfo { hasPreviousPage } } } }`, { id: chat.id })).chat.snapshots;
    const remaining = Array.from({ length: 17 }, (_, i) => i + 1).filter((turn) => !deleted.includes(turn));
    expect(oldest.edges.map((e: any) => e.node.turn)).toEqual(remaining.slice(0, 3).reverse());
    expect(oldest.pageInfo.hasPreviousPage).toBe(true);
  });
});
