// Cursors a client may send back: any string, and any body signed with the real secret (as a
// leaked secret or an older version could produce). Each decodes to a position of the list's
// shape or is a CursorError (INVALID_CURSOR); through GraphQL, a page or INVALID_CURSOR.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CursorError, type CursorScope, decodeCursor, encodeCursor, positionShape, signedCursor } from "../../server/schema/cursors.js";
import { execute, startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dateText, nastyString } from "./arbitraries.js";
import { KNOWN_CODES, PROPERTY_TIMEOUT_MS, PURE_RUNS, RUNS, Tally } from "./outcomes.js";

const SECRET = "property-secret";
const ID = "0b9a3e34-7a0e-4c43-9b0e-7f8c1e0d2a11";
const SCOPES: CursorScope[] = [
  { list: "traces", parentId: ID, filter: null, order: "startedAt asc, id asc" },
  { list: "chats", filter: { titleContains: null }, order: "createdAt desc, id desc" },
  { list: "snapshots", parentId: ID, order: "turn desc" },
  { list: "chatEvents", parentId: ID, order: "seq" },
];
/** The scope part of a cursor the server wrote for `scope`: forged bodies carrying it reach the position check. */
const scopeOf = (scope: CursorScope) => JSON.parse(Buffer.from(encodeCursor(SECRET, scope, scope.order === "seq" || scope.order === "turn desc" ? [1] : [0, ID]).split(".")[0]!, "base64url").toString()).s as string;

/** Decodes, and checks the outcome is a well-shaped position or a CursorError. */
function decodeOutcome(tally: Tally, scope: CursorScope, cursor: string): void {
  let position: unknown;
  try {
    position = decodeCursor(SECRET, scope, cursor);
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(CursorError);
    tally.count(undefined);
    return;
  }
  expect(positionShape(scope.order).safeParse(position).success).toBe(true);
  tally.count(position);
}

const positionElement = fc.oneof(fc.integer(), fc.double(), fc.uuid(), nastyString(40), fc.constant(ID), fc.jsonValue({ maxDepth: 2 }), fc.integer({ min: -62135596800000, max: 253402300799999 }));
const body = (scope: CursorScope) =>
  fc.oneof(
    nastyString(60),
    fc.json({ maxDepth: 3 }),
    fc.record({ s: fc.oneof(fc.constant(scopeOf(scope)), nastyString(16)), p: fc.oneof(fc.array(positionElement, { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
    fc.tuple(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: -62135596800000, max: 253402300799999 })).map(([n, ms]) => JSON.stringify({ s: scopeOf(scope), p: scope.order.includes(",") ? [ms, ID] : [n] })),
  );

describe("decodeCursor", () => {
  test("any string is a position of the list's shape or a CursorError", () => {
    const tally = new Tally();
    const cursorish = fc.oneof(fc.string({ unit: "binary" }), nastyString(80), fc.tuple(fc.base64String(), fc.base64String()).map(([a, b]) => `${a}.${b}`));
    fc.assert(fc.property(fc.constantFrom(...SCOPES), cursorish, (scope, cursor) => decodeOutcome(tally, scope, cursor)), PURE_RUNS);
    expect(tally.refused).toBeGreaterThan(0);
  });

  test("any body signed with the real secret is a position of the list's shape or a CursorError", () => {
    const tally = new Tally();
    const signed = fc.constantFrom(...SCOPES).chain((scope) => fc.tuple(fc.constant(scope), body(scope)));
    fc.assert(fc.property(signed, ([scope, text]) => decodeOutcome(tally, scope, signedCursor(SECRET, text))), PURE_RUNS);
    tally.expectBoth();
  });
});

describe("through GraphQL", () => {
  let db: TestDatabase;
  let t: TestApp;
  let chat: { id: string; uuid: string };
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, { listen: false });
    chat = (await execute(t.app, `mutation { createChat(input: {title: "cursors"}) { ... on Chat { id uuid } } }`)).data!.createChat;
    await execute(t.app, `mutation($c: ID!) { recordToolTraces(input: {items: [{chatId: $c, toolName: "a"}, {chatId: $c, toolName: "b"}]}) { __typename } }`, { c: chat.id });
  });
  afterAll(async () => {
    await t?.stop();
    await db?.destroy();
  });

  test(
    "traces(after, before, filter dates): a page, or only known error codes",
    async () => {
      const real = async () => (await execute(t.app, `query($id: ID!) { chat(id: $id) { traces(first: 1) { pageInfo { endCursor } } } }`, { id: chat.id })).data!.chat.traces.pageInfo.endCursor as string;
      const realCursor = await real();
      const realScope = JSON.parse(Buffer.from(realCursor.split(".")[0]!, "base64url").toString()).s as string;
      const cursor = fc.oneof(
        nastyString(60),
        fc.constant(realCursor),
        fc.array(positionElement, { maxLength: 3 }).map((p) => signedCursor(t.config.CURSOR_SECRET, JSON.stringify({ s: realScope, p }))),
        fc.string().map((text) => signedCursor(t.config.CURSOR_SECRET, text)),
      );
      const args = fc.record({ after: cursor, before: cursor, startedFrom: dateText, first: fc.integer({ min: -1, max: 3 }) }, { requiredKeys: [] });
      const tally = new Tally();
      await fc.assert(
        fc.asyncProperty(args, async (a) => {
          const response = await execute(
            t.app,
            `query($id: ID!, $after: String, $before: String, $from: DateTime, $first: Int) { chat(id: $id) { traces(first: $first, after: $after, before: $before, filter: {startedFrom: $from}) { edges { cursor } } } }`,
            { id: chat.id, after: a.after, before: a.before, from: a.startedFrom?.text, first: a.first },
          );
          for (const error of response.errors ?? []) {
            expect(error.message).not.toBe("Unexpected error.");
            expect([...KNOWN_CODES, "PAGE_SIZE_INVALID"], JSON.stringify(error)).toContain(error.extensions?.code);
          }
          tally.count(response.errors ? undefined : response.data);
        }),
        RUNS,
      );
      tally.expectBoth();
    },
    PROPERTY_TIMEOUT_MS,
  );
});
