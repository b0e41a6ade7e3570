import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import type { AgentSnapshotRevision } from "../../server/db/generated/prisma/client.js";
import { ConflictError, NotFoundError, ValidationError } from "../../server/errors.js";
import { REDACTED } from "../../server/services/snapshots.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";
import type { ServiceHarness } from "../helpers/services.js";

const STATE_MAX = 1024;
/** `small`: same database, keeps 3 revisions per chat, and states of at most 1024 bytes. */
const { db, h, harnesses: { small } } = useServiceDatabase({ harnesses: { small: { snapshotRetention: 3, snapshotStateMaxBytes: STATE_MAX } } });
const { failsCleanly, changesNothing, eventLog } = serviceAssertions(() => db, () => h);

const stateOf = (turn: number) => ({ messages: [{ role: "user", content: `turn ${turn}` }], pending: [], model: "m", workspace: "/w" });
const chatRow = (id: string) => db.prisma.chat.findUniqueOrThrow({ where: { id } });
const revisionRow = (id: string) => db.prisma.agentSnapshotRevision.findUniqueOrThrow({ where: { id } });
const headOf = (chatId: string) => db.prisma.agentSnapshot.findUnique({ where: { chatId } });

async function chatWithTurns(n: number, via: ServiceHarness = h) {
  const chat = await via.services.chats.create({ title: "snapshots" });
  const revisions: AgentSnapshotRevision[] = [];
  for (let turn = 1; turn <= n; turn++) revisions.push(await via.services.snapshots.save({ chatId: chat.id, state: stateOf(turn) }));
  return { chat, revisions };
}

/** turn -> superseded? for every kept revision of the chat. */
async function supersededByTurn(chatId: string) {
  const rows = await db.prisma.agentSnapshotRevision.findMany({ where: { chatId }, orderBy: { turn: "asc" } });
  return Object.fromEntries(rows.map((r) => [r.turn, r.supersededAt !== null]));
}

describe("save", () => {
  test("the first save is turn 1: a revision, the head pointing at it, next turn 2, snapshot_saved", async () => {
    const chat = await h.services.chats.create();
    const revision = await h.services.snapshots.save({ chatId: chat.id, state: stateOf(1) });
    expect(revision).toMatchObject({
      chatId: chat.id,
      turn: 1,
      sessionId: chat.currentSessionId,
      state: stateOf(1),
      stateBytes: Buffer.byteLength(JSON.stringify(stateOf(1))),
      supersededAt: null,
      restoredFrom: null,
    });
    expect(await revisionRow(revision.id)).toEqual(revision);
    expect(await headOf(chat.id)).toMatchObject({ currentRevisionId: revision.id, turn: 1 });
    expect((await chatRow(chat.id)).nextTurn).toBe(2);
    expect(await eventLog(chat.id)).toEqual([
      ["chat_created", chat.id],
      ["snapshot_saved", revision.id],
    ]);
  });

  test("each save without a turn closes the open turn; the turn is a column, not part of the state", async () => {
    const { chat, revisions } = await chatWithTurns(3);
    expect(revisions.map((r) => r.turn)).toEqual([1, 2, 3]);
    expect((await chatRow(chat.id)).nextTurn).toBe(4);
    expect((await revisionRow(revisions[2]!.id)).state).toEqual(stateOf(3));
    expect(await headOf(chat.id)).toMatchObject({ currentRevisionId: revisions[2]!.id, turn: 3 });
  });

  test("an explicit turn may skip ahead; next turn is one more than the highest saved", async () => {
    const { chat } = await chatWithTurns(1);
    const skipped = await h.services.snapshots.save({ chatId: chat.id, turn: 5, state: stateOf(5) });
    expect(skipped.turn).toBe(5);
    expect((await chatRow(chat.id)).nextTurn).toBe(6);
    const next = await h.services.snapshots.save({ chatId: chat.id, state: stateOf(6) });
    expect(next.turn).toBe(6);
    expect((await chatRow(chat.id)).nextTurn).toBe(7);
  });

  test("an explicit turn equal to the open one is fine; a given session is kept", async () => {
    const { chat } = await chatWithTurns(2);
    const sessionId = randomUUID();
    const revision = await h.services.snapshots.save({ chatId: chat.id, turn: 3, sessionId, state: stateOf(3) });
    expect(revision).toMatchObject({ turn: 3, sessionId });
  });

  test("an earlier turn with a different state is a ConflictError and writes nothing", async () => {
    const { chat, revisions } = await chatWithTurns(3);
    const error = await failsCleanly(ConflictError, () => h.services.snapshots.save({ chatId: chat.id, turn: 2, state: { messages: ["other"] } }));
    expect(error.code).toBe("CONFLICT");
    expect(error.message).toBe("turn 2 is closed: the chat's next turn is 4");
    expect(await revisionRow(revisions[1]!.id)).toEqual(revisions[1]);
  });

  test("an identical replay of an earlier turn returns the stored revision and writes nothing", async () => {
    const { chat, revisions } = await chatWithTurns(3);
    // Key order does not matter: the state is compared by value.
    const { workspace, model, pending, messages } = stateOf(2);
    const replay = await changesNothing(() => h.services.snapshots.save({ chatId: chat.id, turn: 2, state: { workspace, model, pending, messages } }));
    expect(replay).toEqual(revisions[1]);
  });

  test("an earlier turn that was deleted is a conflict, not a new revision", async () => {
    const { chat, revisions } = await chatWithTurns(3);
    await h.services.snapshots.deleteRevision(revisions[0]!.id);
    await failsCleanly(ConflictError, () => h.services.snapshots.save({ chatId: chat.id, turn: 1, state: stateOf(1) }));
  });

  test("a turn whose successor would not fit the column is a ValidationError naming turn, and writes nothing", async () => {
    const chat = await h.services.chats.create();
    const error = await failsCleanly(ValidationError, () => h.services.snapshots.save({ chatId: chat.id, turn: 2_147_483_647, state: stateOf(1) }));
    expect(error.issues.map((i) => i.path)).toEqual([["turn"]]);
  });

  test("after the last turn, a save without a turn is a ConflictError (found by the property suite), and writes nothing", async () => {
    const chat = await h.services.chats.create();
    await h.services.snapshots.save({ chatId: chat.id, turn: 2_147_483_646, state: stateOf(1) });
    const error = await failsCleanly(ConflictError, () => h.services.snapshots.save({ chatId: chat.id, state: stateOf(2) }));
    expect(error.message).toBe("the chat's turns are used up: its open turn 2147483647 is past the last, 2147483646");
  });

  test("an unknown chat is a NotFoundError and writes nothing", async () => {
    const chatId = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.snapshots.save({ chatId, state: stateOf(1) }));
    expect(error).toMatchObject({ code: "NOT_FOUND", entity: "Chat", id: chatId });
  });

  test.each([
    ["turn 0", { turn: 0 }, ["turn"], "must be at least 1"],
    ["a negative turn", { turn: -1 }, ["turn"], "must not be negative"],
    ["a fractional turn", { turn: 2.5 }, ["turn"], "must be a whole number"],
    ["a state that is an array", { state: [1, 2] }, ["state"], "must be a JSON object"],
    ["a state that is a string", { state: "hello" }, ["state"], "must be a JSON object"],
    ["a null state", { state: null }, ["state"], "must be a JSON object"],
    ["a session that is not a UUID", { sessionId: "s" }, ["sessionId"], "must be a UUID"],
  ])("%s is a ValidationError and writes nothing", async (_, change, path, message) => {
    const chat = await h.services.chats.create();
    const error = await failsCleanly(ValidationError, () => h.services.snapshots.save({ chatId: chat.id, state: stateOf(1), ...change }));
    expect(error.issues).toContainEqual({ path, message });
  });
});

describe("state size limit (UTF-8 bytes of JSON)", () => {
  const stateOfBytes = (bytes: number) => ({ s: "x".repeat(bytes - 8) });

  test("exactly at the limit is saved; one byte over is a ValidationError naming state and writes nothing", async () => {
    const chat = await small.services.chats.create();
    expect(Buffer.byteLength(JSON.stringify(stateOfBytes(STATE_MAX)))).toBe(STATE_MAX);
    const error = await failsCleanly(ValidationError, () => small.services.snapshots.save({ chatId: chat.id, state: stateOfBytes(STATE_MAX + 1) }), small);
    expect(error.issues).toEqual([{ path: ["state"], message: `state is ${STATE_MAX + 1} bytes of JSON; the limit is ${STATE_MAX}` }]);
    const saved = await small.services.snapshots.save({ chatId: chat.id, state: stateOfBytes(STATE_MAX) });
    expect(saved.stateBytes).toBe(STATE_MAX);
  });

  test("multi-byte characters count by their bytes", async () => {
    const chat = await small.services.chats.create();
    const state = { s: "日本".repeat(200) }; // 408 characters of JSON, 1208 bytes
    const error = await failsCleanly(ValidationError, () => small.services.snapshots.save({ chatId: chat.id, state }), small);
    expect(error.issues[0]!.path).toEqual(["state"]);
  });

  test("the default limit is 4194304 bytes", async () => {
    const chat = await h.services.chats.create();
    const error = await failsCleanly(ValidationError, () => h.services.snapshots.save({ chatId: chat.id, state: stateOfBytes(4194305) }));
    expect(error.issues[0]!.message).toBe("state is 4194305 bytes of JSON; the limit is 4194304");
  });
});

describe("secrets", () => {
  test("secret-looking values are redacted before the state is stored, anywhere in it", async () => {
    const chat = await h.services.chats.create();
    const state = {
      model: { name: "gpt-x", apiKey: "sk-live-123", api_key: "sk-live-456", temperature: 0 },
      providers: [{ name: "a", client_secret: "cs-1", headers: { Authorization: "Bearer abc" } }],
      auth: { password: "hunter2", access_token: "at-1", refresh_token: "rt-1", Secret: "s" },
      messages: [{ role: "user", content: "my password is not a key name", tokens: 12 }],
      emptyKey: { apiKey: "" },
      nested: { apiKey: { value: "sk-nested" } },
    };
    const saved = await h.services.snapshots.save({ chatId: chat.id, state });
    const expected = {
      model: { name: "gpt-x", apiKey: REDACTED, api_key: REDACTED, temperature: 0 },
      providers: [{ name: "a", client_secret: REDACTED, headers: { Authorization: REDACTED } }],
      auth: { password: REDACTED, access_token: REDACTED, refresh_token: REDACTED, Secret: REDACTED },
      messages: [{ role: "user", content: "my password is not a key name", tokens: 12 }],
      emptyKey: { apiKey: "" },
      // Everything under a secret key is secret, however it is wrapped.
      nested: { apiKey: { value: REDACTED } },
    };
    expect(saved.state).toEqual(expected);
    expect((await h.services.snapshots.loadCurrent(chat.id))!.state).toEqual(expected);
    const [raw] = await db.prisma.$queryRaw<{ state: string }[]>`SELECT state::text AS state FROM agent_snapshot_revisions WHERE id = ${saved.id}::uuid`;
    for (const secret of ["sk-live-123", "sk-live-456", "cs-1", "Bearer abc", "hunter2", "at-1", "rt-1", "sk-nested"]) expect(raw!.state).not.toContain(secret);
    // Saving the same turn again with the secrets is an identical replay.
    await changesNothing(() => h.services.snapshots.save({ chatId: chat.id, turn: 1, state }));
  });

  test("environment and header names are matched by their words: OPENAI_API_KEY, GITHUB_TOKEN, x-api-key", async () => {
    const chat = await h.services.chats.create();
    const state = {
      env: { OPENAI_API_KEY: "sk-proj-1", GITHUB_TOKEN: "ghp_2", AWS_SECRET_ACCESS_KEY: "aws-3", PGPASSWORD: "pg-4", PATH: "/usr/bin", PWD: "/work" },
      headers: { "x-api-key": "xk-5", "X-Auth-Token": "xa-6", "content-type": "application/json" },
      usage: { maxTokens: 1024, tokensUsed: 77, tokenizer: "cl100k" },
      pin: { password: 123456, hasSecret: true, secret: null },
    };
    const saved = await h.services.snapshots.save({ chatId: chat.id, state });
    expect(saved.state).toEqual({
      env: { OPENAI_API_KEY: REDACTED, GITHUB_TOKEN: REDACTED, AWS_SECRET_ACCESS_KEY: REDACTED, PGPASSWORD: REDACTED, PATH: "/usr/bin", PWD: "/work" },
      headers: { "x-api-key": REDACTED, "X-Auth-Token": REDACTED, "content-type": "application/json" },
      usage: { maxTokens: 1024, tokensUsed: 77, tokenizer: "cl100k" },
      // A numeric password is a secret too; a flag or a null says nothing.
      pin: { password: REDACTED, hasSecret: true, secret: null },
    });
    const [raw] = await db.prisma.$queryRaw<{ state: string }[]>`SELECT state::text AS state FROM agent_snapshot_revisions WHERE id = ${saved.id}::uuid`;
    for (const secret of ["sk-proj-1", "ghp_2", "aws-3", "pg-4", "xk-5", "xa-6", "123456"]) expect(raw!.state).not.toContain(secret);
    // A retried save carrying the same secrets is the same save, not a conflict.
    expect(await changesNothing(() => h.services.snapshots.save({ chatId: chat.id, turn: 1, state }))).toEqual(saved);
  });

  test("a state stored before a secret name was known still matches its retried save", async () => {
    const chat = await h.services.chats.create();
    const state = { env: { OPENAI_API_KEY: "sk-old" }, step: 1 };
    const saved = await h.services.snapshots.save({ chatId: chat.id, state });
    // As an earlier version stored it: the key in clear.
    await db.prisma.agentSnapshotRevision.update({ where: { id: saved.id }, data: { state } });
    await changesNothing(() => h.services.snapshots.save({ chatId: chat.id, turn: 1, state }));
    await failsCleanly(ConflictError, () => h.services.snapshots.save({ chatId: chat.id, turn: 1, state: { ...state, step: 2 } }));
  });
});

describe("NUL characters", () => {
  test("a state holding U+0000 in a string or key is stored with U+FFFD instead", async () => {
    const chat = await h.services.chats.create();
    const saved = await h.services.snapshots.save({ chatId: chat.id, state: { messages: [{ role: "tool", content: "a\u0000b" }], ["k\u0000"]: 1 } });
    expect((await h.services.snapshots.loadCurrent(chat.id))!.state).toEqual({ messages: [{ role: "tool", content: "a\uFFFDb" }], ["k\uFFFD"]: 1 });
    expect(saved.turn).toBe(1);
  });
});

describe("a __proto__ key", () => {
  test("is left out, as Prisma drops it, so a retried save is still an identical replay", async () => {
    const chat = await h.services.chats.create();
    const state = JSON.parse('{"__proto__": {"polluted": true}, "messages": [{"__proto__": 1, "role": "user"}]}');
    const saved = await h.services.snapshots.save({ chatId: chat.id, state });
    expect(saved.state).toEqual({ messages: [{ role: "user" }] });
    expect(await changesNothing(() => h.services.snapshots.save({ chatId: chat.id, turn: 1, state }))).toEqual(saved);
  });
});

describe("load and list", () => {
  test("loadCurrent is null before any save, then the current revision", async () => {
    const chat = await h.services.chats.create();
    expect(await h.services.snapshots.loadCurrent(chat.id)).toBeNull();
    await h.services.snapshots.save({ chatId: chat.id, state: stateOf(1) });
    const second = await h.services.snapshots.save({ chatId: chat.id, state: stateOf(2) });
    expect(await changesNothing(() => h.services.snapshots.loadCurrent(chat.id))).toEqual(second);
  });

  test("listRevisions returns every kept revision, newest first", async () => {
    const { chat, revisions } = await chatWithTurns(4);
    expect(await changesNothing(() => h.services.snapshots.listRevisions(chat.id))).toEqual([...revisions].reverse());
    const empty = await h.services.chats.create();
    expect(await h.services.snapshots.listRevisions(empty.id)).toEqual([]);
  });

  test("an unknown chat is a NotFoundError for both", async () => {
    const chatId = randomUUID();
    expect(await failsCleanly(NotFoundError, () => h.services.snapshots.loadCurrent(chatId))).toMatchObject({ entity: "Chat", id: chatId });
    expect(await failsCleanly(NotFoundError, () => h.services.snapshots.listRevisions(chatId))).toMatchObject({ entity: "Chat", id: chatId });
  });
});

describe("restore", () => {
  test("turn 3 of 5: 3 is current, 4 and 5 are superseded but kept, a new session, next turn 6", async () => {
    const { chat, revisions } = await chatWithTurns(5);
    const before = await chatRow(chat.id);
    const restored = await h.services.snapshots.restore({ chatId: chat.id, turn: 3 });

    expect(restored.revision).toMatchObject({ id: revisions[2]!.id, turn: 3, supersededAt: null, state: stateOf(3) });
    expect(restored.nextTurn).toBe(6);
    expect(restored.sessionId).not.toBe(before.currentSessionId);
    expect(restored.sessionId).not.toBe(chat.id);
    const after = await chatRow(chat.id);
    expect(after).toMatchObject({ currentSessionId: restored.sessionId, nextTurn: 6, continuedFromTurn: 3 });

    expect((await h.services.snapshots.loadCurrent(chat.id))!.id).toBe(revisions[2]!.id);
    expect(await headOf(chat.id)).toMatchObject({ currentRevisionId: revisions[2]!.id, turn: 3 });
    expect(await supersededByTurn(chat.id)).toEqual({ 1: false, 2: false, 3: false, 4: true, 5: true });
    expect((await h.services.snapshots.listRevisions(chat.id)).map((r) => r.turn)).toEqual([5, 4, 3, 2, 1]);
    expect((await eventLog(chat.id)).at(-1)).toEqual(["snapshot_restored", revisions[2]!.id]);

    // Work continues in turn 6 of the new session, and the first save there records where it came from.
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "ls", toolInput: {} });
    expect(trace).toMatchObject({ turnNumber: 6, sessionId: restored.sessionId });
    const sixth = await h.services.snapshots.save({ chatId: chat.id, state: stateOf(6) });
    expect(sixth).toMatchObject({ turn: 6, restoredFrom: 3, sessionId: restored.sessionId });
    expect(await chatRow(chat.id)).toMatchObject({ nextTurn: 7, continuedFromTurn: null });
    const seventh = await h.services.snapshots.save({ chatId: chat.id, state: stateOf(7) });
    expect(seventh.restoredFrom).toBeNull();
    await eventLog(chat.id);
  });

  test("after restoring 3, saving turn 4 again is a conflict: turns only increase", async () => {
    const { chat } = await chatWithTurns(5);
    await h.services.snapshots.restore({ chatId: chat.id, turn: 3 });
    await failsCleanly(ConflictError, () => h.services.snapshots.save({ chatId: chat.id, turn: 4, state: { messages: ["new branch"] } }));
  });

  test("a superseded revision stays restorable: restoring it clears its mark and supersedes every higher turn", async () => {
    const { chat, revisions } = await chatWithTurns(5);
    await h.services.snapshots.restore({ chatId: chat.id, turn: 3 });
    const sixth = await h.services.snapshots.save({ chatId: chat.id, state: stateOf(6) });

    const five = await h.services.snapshots.restore({ chatId: chat.id, turn: 5 });
    expect(five.revision).toMatchObject({ id: revisions[4]!.id, supersededAt: null });
    expect(five.nextTurn).toBe(7);
    expect((await h.services.snapshots.loadCurrent(chat.id))!.id).toBe(revisions[4]!.id);
    const marks = await supersededByTurn(chat.id);
    expect(marks).toMatchObject({ 1: false, 2: false, 3: false, 5: false, 6: true });
    expect((await revisionRow(sixth.id)).supersededAt).not.toBeNull();

    const four = await h.services.snapshots.restore({ chatId: chat.id, turn: 4 });
    expect(four.revision.id).toBe(revisions[3]!.id);
    expect(await supersededByTurn(chat.id)).toEqual({ 1: false, 2: false, 3: false, 4: false, 5: true, 6: true });
    expect(four.sessionId).not.toBe(five.sessionId);

    const next = await h.services.snapshots.save({ chatId: chat.id, state: stateOf(7) });
    expect(next).toMatchObject({ turn: 7, restoredFrom: 4, sessionId: four.sessionId });
    expect((await eventLog(chat.id)).map(([kind]) => kind)).toEqual([
      "chat_created",
      ...Array(5).fill("snapshot_saved"),
      "snapshot_restored",
      "snapshot_saved",
      "snapshot_restored",
      "snapshot_restored",
      "snapshot_saved",
    ]);
  });

  test("a restore keeps the restored turn's whole history current and supersedes abandoned branches", async () => {
    // 1-2-3-4-5, restore 3, save 6 (continued from 3): two branches share 1-2-3.
    const { chat } = await chatWithTurns(5);
    await h.services.snapshots.restore({ chatId: chat.id, turn: 3 });
    await h.services.snapshots.save({ chatId: chat.id, state: stateOf(6) });
    expect(await supersededByTurn(chat.id)).toEqual({ 1: false, 2: false, 3: false, 4: true, 5: true, 6: false });

    // Back to 5: its history is 1-2-3-4-5, so 4 is current again; 6 is on the abandoned branch.
    await h.services.snapshots.restore({ chatId: chat.id, turn: 5 });
    expect(await supersededByTurn(chat.id)).toEqual({ 1: false, 2: false, 3: false, 4: false, 5: false, 6: true });

    // Forward to 6: its history is 1-2-3-6; 4 and 5 are superseded although they are older.
    await h.services.snapshots.restore({ chatId: chat.id, turn: 6 });
    expect(await supersededByTurn(chat.id)).toEqual({ 1: false, 2: false, 3: false, 4: true, 5: true, 6: false });
  });

  test("restoring the current turn starts a new session and supersedes nothing", async () => {
    const { chat } = await chatWithTurns(2);
    const first = await h.services.snapshots.restore({ chatId: chat.id, turn: 2 });
    const second = await h.services.snapshots.restore({ chatId: chat.id, turn: 2 });
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(second.nextTurn).toBe(3);
    expect(await supersededByTurn(chat.id)).toEqual({ 1: false, 2: false });
  });

  test("a turn that was never saved is a NotFoundError and writes nothing", async () => {
    const { chat } = await chatWithTurns(3);
    for (const turn of [4, 99]) {
      const error = await failsCleanly(NotFoundError, () => h.services.snapshots.restore({ chatId: chat.id, turn }));
      expect(error).toMatchObject({ code: "NOT_FOUND", entity: "SnapshotRevision" });
      expect(error.message).toBe(`turn ${turn} of chat ${chat.id} has no saved snapshot`);
    }
  });

  test("a skipped turn and a deleted turn are NotFoundErrors too", async () => {
    const chat = await h.services.chats.create();
    await h.services.snapshots.save({ chatId: chat.id, state: stateOf(1) });
    const third = await h.services.snapshots.save({ chatId: chat.id, turn: 3, state: stateOf(3) });
    await h.services.snapshots.save({ chatId: chat.id, state: stateOf(4) });
    await failsCleanly(NotFoundError, () => h.services.snapshots.restore({ chatId: chat.id, turn: 2 }));
    await h.services.snapshots.deleteRevision(third.id);
    await failsCleanly(NotFoundError, () => h.services.snapshots.restore({ chatId: chat.id, turn: 3 }));
  });

  test("a chat with no snapshot at all: restoring turn 1 is a NotFoundError", async () => {
    const chat = await h.services.chats.create();
    await failsCleanly(NotFoundError, () => h.services.snapshots.restore({ chatId: chat.id, turn: 1 }));
  });

  test("an unknown chat is a NotFoundError and writes nothing", async () => {
    const chatId = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.snapshots.restore({ chatId, turn: 1 }));
    expect(error).toMatchObject({ entity: "Chat", id: chatId });
  });

  test.each([
    ["turn 0", 0, "must be at least 1"],
    ["a negative turn", -3, "must not be negative"],
    ["a fractional turn", 1.5, "must be a whole number"],
  ])("%s is a ValidationError and writes nothing", async (_, turn, message) => {
    const { chat } = await chatWithTurns(1);
    const error = await failsCleanly(ValidationError, () => h.services.snapshots.restore({ chatId: chat.id, turn }));
    expect(error.issues).toContainEqual({ path: ["turn"], message });
  });
});

describe("delete a revision", () => {
  test("deletes one revision by id and publishes snapshot_deleted", async () => {
    const { chat, revisions } = await chatWithTurns(3);
    const deleted = await h.services.snapshots.deleteRevision(revisions[1]!.id);
    expect(deleted).toEqual(revisions[1]);
    expect((await h.services.snapshots.listRevisions(chat.id)).map((r) => r.turn)).toEqual([3, 1]);
    expect((await h.services.snapshots.loadCurrent(chat.id))!.id).toBe(revisions[2]!.id);
    expect((await eventLog(chat.id)).at(-1)).toEqual(["snapshot_deleted", revisions[1]!.id]);
    // The turn stays closed.
    expect((await chatRow(chat.id)).nextTurn).toBe(4);
  });

  test("a superseded revision can be deleted", async () => {
    const { chat, revisions } = await chatWithTurns(3);
    await h.services.snapshots.restore({ chatId: chat.id, turn: 1 });
    await h.services.snapshots.deleteRevision(revisions[2]!.id);
    expect((await h.services.snapshots.listRevisions(chat.id)).map((r) => r.turn)).toEqual([2, 1]);
  });

  test("the current revision is a ConflictError and nothing is written", async () => {
    const { chat, revisions } = await chatWithTurns(3);
    const error = await failsCleanly(ConflictError, () => h.services.snapshots.deleteRevision(revisions[2]!.id));
    expect(error).toMatchObject({ code: "CONFLICT", entity: "SnapshotRevision", id: revisions[2]!.id });
    // After a restore, the restored one is current and the newest is deletable.
    await h.services.snapshots.restore({ chatId: chat.id, turn: 1 });
    await failsCleanly(ConflictError, () => h.services.snapshots.deleteRevision(revisions[0]!.id));
    await h.services.snapshots.deleteRevision(revisions[2]!.id);
  });

  test("an unknown revision is a NotFoundError and writes nothing", async () => {
    const id = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.snapshots.deleteRevision(id));
    expect(error).toMatchObject({ entity: "SnapshotRevision", id });
    await failsCleanly(ValidationError, () => h.services.snapshots.deleteRevision("rev-1"));
  });

  test("deleting the same revision twice: the second is a NotFoundError", async () => {
    const { revisions } = await chatWithTurns(2);
    await h.services.snapshots.deleteRevision(revisions[0]!.id);
    await failsCleanly(NotFoundError, () => h.services.snapshots.deleteRevision(revisions[0]!.id));
  });
});

describe("retention (newest 3 kept)", () => {
  test("older revisions are pruned as new ones are saved, each with a snapshot_deleted event", async () => {
    const { chat, revisions } = await chatWithTurns(5, small);
    expect((await small.services.snapshots.listRevisions(chat.id)).map((r) => r.turn)).toEqual([5, 4, 3]);
    const [r1, r2, r3, r4, r5] = revisions.map((r) => r.id);
    expect(await eventLog(chat.id, small)).toEqual([
      ["chat_created", chat.id],
      ["snapshot_saved", r1],
      ["snapshot_saved", r2],
      ["snapshot_saved", r3],
      ["snapshot_saved", r4],
      ["snapshot_deleted", r1],
      ["snapshot_saved", r5],
      ["snapshot_deleted", r2],
    ]);
  });

  test("after a restore to the oldest kept turn, the current revision is never pruned", async () => {
    const { chat, revisions } = await chatWithTurns(5, small);
    // Kept: 3, 4, 5. Restore the oldest of them.
    const restored = await small.services.snapshots.restore({ chatId: chat.id, turn: 3 });
    expect(restored.revision.id).toBe(revisions[2]!.id);
    expect((await small.services.snapshots.listRevisions(chat.id)).map((r) => r.turn)).toEqual([5, 4, 3]);
    expect((await small.services.snapshots.loadCurrent(chat.id))!.id).toBe(revisions[2]!.id);

    // A second restore of it prunes nothing either, and it is still loadable and current.
    await small.services.snapshots.restore({ chatId: chat.id, turn: 3 });
    expect((await small.services.snapshots.listRevisions(chat.id)).map((r) => r.turn)).toEqual([5, 4, 3]);

    // The next save is turn 6 (from 3) and current; the oldest kept one goes, the current stays.
    const sixth = await small.services.snapshots.save({ chatId: chat.id, state: stateOf(6) });
    expect(sixth).toMatchObject({ turn: 6, restoredFrom: 3 });
    const kept = await small.services.snapshots.listRevisions(chat.id);
    expect(kept.map((r) => r.turn)).toEqual([6, 5, 4]);
    expect((await small.services.snapshots.loadCurrent(chat.id))!.id).toBe(sixth.id);
    expect((await eventLog(chat.id, small)).slice(-2)).toEqual([
      ["snapshot_saved", sixth.id],
      ["snapshot_deleted", revisions[2]!.id],
    ]);
    for (let turn = 7; turn <= 10; turn++) {
      const saved = await small.services.snapshots.save({ chatId: chat.id, state: stateOf(turn) });
      const ids = (await small.services.snapshots.listRevisions(chat.id)).map((r) => r.id);
      expect(ids).toHaveLength(3);
      expect(ids[0]).toBe(saved.id);
      expect((await headOf(chat.id))!.currentRevisionId).toBe(saved.id);
    }
  });

  test("a chat under the retention keeps everything; other chats are not pruned", async () => {
    const { chat: a } = await chatWithTurns(2, small);
    const { chat: b } = await chatWithTurns(4, small);
    expect((await small.services.snapshots.listRevisions(a.id)).map((r) => r.turn)).toEqual([2, 1]);
    expect((await small.services.snapshots.listRevisions(b.id)).map((r) => r.turn)).toEqual([4, 3, 2]);
  });

  test("with the default retention (100), 101 saves keep 100", { timeout: 60_000 }, async () => {
    const { chat, revisions } = await chatWithTurns(101);
    const kept = await h.services.snapshots.listRevisions(chat.id);
    expect(kept).toHaveLength(100);
    expect(kept.at(-1)!.turn).toBe(2);
    expect((await eventLog(chat.id)).at(-1)).toEqual(["snapshot_deleted", revisions[0]!.id]);
  });
});
