import { createHash } from "node:crypto";
import stringify from "safe-stable-stringify";
import { describe, expect, test } from "vitest";
import { CursorError, type CursorScope, decodeCursor, encodeCursor, positionShape, signedCursor } from "../../server/schema/cursors.js";
import { eventSeqOf } from "../../server/schema/event-cursor.js";
import type { GraphQLContext } from "../../server/schema/context.js";

const SECRET = "cursor-test-secret";
const ID = "0b9a3e34-7a0e-4c43-9b0e-7f8c1e0d2a11";
const traces: CursorScope = { list: "traces", parentId: ID, filter: null, order: "startedAt asc, id asc" };
const snapshots: CursorScope = { list: "snapshots", parentId: ID, order: "turn desc" };
/** The scope hash as cursors.ts computes it, so a forged body passes the scope check and reaches the position's. */
const scopeHash = (scope: CursorScope) => createHash("sha256").update(stringify(scope) ?? "").digest("base64url").slice(0, 16);

const refusal = (scope: CursorScope, cursor: string) => {
  try {
    decodeCursor(SECRET, scope, cursor);
  } catch (error) {
    expect(error).toBeInstanceOf(CursorError);
    expect((error as CursorError).extensions.code).toBe("INVALID_CURSOR");
    return (error as CursorError).message;
  }
  throw new Error(`expected a CursorError for ${cursor}`);
};

describe("decodeCursor", () => {
  test("gives back what encodeCursor wrote", () => {
    const at = Date.parse("2026-01-02T03:04:05.678Z");
    expect(decodeCursor(SECRET, traces, encodeCursor(SECRET, traces, [at, ID]))).toEqual([at, ID]);
    expect(decodeCursor(SECRET, snapshots, encodeCursor(SECRET, snapshots, [7]))).toEqual([7]);
  });

  test.each([
    ["not JSON", "not json"],
    ["JSON that is not an object", "[1,2]"],
    ["a string", '"s"'],
    ["null", "null"],
    ["no position", `{"s":"x"}`],
    ["a position that is not a list", `{"s":"x","p":"1"}`],
    ["a position holding an object", `{"s":"x","p":[{}]}`],
    ["a position holding null", `{"s":"x","p":[null]}`],
    ["a scope that is not a string", `{"s":1,"p":[1]}`],
    ["an extra field", `{"s":"x","p":[1],"q":1}`],
    ["an empty body", ""],
  ])("a signed body that is %s is malformed", (_, body) => {
    expect(refusal(traces, signedCursor(SECRET, body))).toBe("The cursor is malformed");
  });

  const traceBody = (p: unknown) => signedCursor(SECRET, JSON.stringify({ s: scopeHash(traces), p }));
  test.each([
    ["the columns swapped", [ID, 1]],
    ["a date string for the instant", ["2026-01-02T03:04:05.678Z", ID]],
    ["a fractional instant", [1.5, ID]],
    ["an instant beyond year 9999", [8.64e15, ID]],
    ["an instant before year 1", [-62135596800001, ID]],
    ["an id that is not a UUID", [1, "not-a-uuid"]],
    ["a column missing", [1]],
    ["a column too many", [1, ID, 2]],
    ["no columns", []],
  ])("a traces position with %s does not fit its list", (_, p) => {
    expect(refusal(traces, traceBody(p))).toBe("The cursor's position does not fit its list");
  });

  test("a snapshots position must be one whole turn in 32 bits", () => {
    const body = (p: unknown) => signedCursor(SECRET, JSON.stringify({ s: scopeHash(snapshots), p }));
    for (const p of [["3"], [-1], [2 ** 31], [1.5], [3, 4]]) expect(refusal(snapshots, body(p))).toBe("The cursor's position does not fit its list");
    expect(decodeCursor(SECRET, snapshots, body([3]))).toEqual([3]);
  });

  test("an event cursor's seq is checked by the same rule", () => {
    const ctx = { limits: { cursorSecret: SECRET } } as GraphQLContext;
    const scope: CursorScope = { list: "chatEvents", parentId: ID, order: "seq" };
    expect(eventSeqOf(ctx, ID, encodeCursor(SECRET, scope, [12]))).toBe(12);
    for (const p of [["12"], [-1], [0.5], []]) {
      expect(() => eventSeqOf(ctx, ID, signedCursor(SECRET, JSON.stringify({ s: scopeHash(scope), p })))).toThrow(CursorError);
    }
  });

  test("unsigned, wrongly signed and oddly split cursors are refused before the body is read", () => {
    const good = encodeCursor(SECRET, snapshots, [1]);
    expect(refusal(snapshots, "")).toBe("The cursor is malformed");
    expect(refusal(snapshots, `${good}.x`)).toBe("The cursor is malformed");
    expect(refusal(snapshots, encodeCursor("another-secret", snapshots, [1]))).toBe("The cursor was not issued by this server");
    expect(refusal(snapshots, `${good.split(".")[0]}.é`)).toBe("The cursor was not issued by this server");
  });
});

describe("positions", () => {
  test("a list whose order names a column without a kind fails loudly, as a programming error", () => {
    expect(() => positionShape("title asc, id asc")).toThrow(/no kind for the order column "title"/);
  });

  test("encodeCursor refuses to write a position its list's order does not allow", () => {
    expect(() => encodeCursor(SECRET, traces, ["2026-01-01", ID])).toThrow(/does not allow/);
  });
});
