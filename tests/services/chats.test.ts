import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { NotFoundError, ValidationError } from "../../server/errors.js";
import { brief, serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";

const { db, h } = useServiceDatabase();
const { failsCleanly, eventLog } = serviceAssertions(() => db, () => h);

async function rowsOfChat(chatId: string) {
  return {
    chats: await db.prisma.chat.count({ where: { id: chatId } }),
    traces: await db.prisma.toolTrace.count({ where: { chatId } }),
    steps: await db.prisma.modelStep.count({ where: { chatId } }),
    events: await db.prisma.chatEvent.count({ where: { chatId } }),
    heads: await db.prisma.agentSnapshot.count({ where: { chatId } }),
    revisions: await db.prisma.agentSnapshotRevision.count({ where: { chatId } }),
  };
}

describe("create", () => {
  test("a chat with defaults: its own session, turn 1, and chat_created as seq 1", async () => {
    const chat = await h.services.chats.create();
    expect(chat.title).toBe("Untitled chat");
    expect(chat.workspace).toBeNull();
    expect(chat.nextTurn).toBe(1);
    expect(chat.eventSeq).toBe(1);
    expect(chat.continuedFromTurn).toBeNull();
    expect(chat.currentSessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(chat.currentSessionId).not.toBe(chat.id);
    expect(await eventLog(chat.id)).toEqual([["chat_created", chat.id]]);
  });

  test("title (trimmed) and workspace are kept", async () => {
    const chat = await h.services.chats.create({ title: "  Fix the build  ", workspace: "/home/me/project" });
    const stored = await db.prisma.chat.findUniqueOrThrow({ where: { id: chat.id } });
    expect(stored.title).toBe("Fix the build");
    expect(stored.workspace).toBe("/home/me/project");
  });

  test("two chats get different ids and sessions", async () => {
    const a = await h.services.chats.create({ title: "a" });
    const b = await h.services.chats.create({ title: "b" });
    expect(a.id).not.toBe(b.id);
    expect(a.currentSessionId).not.toBe(b.currentSessionId);
  });

  test.each([
    ["a blank title", { title: "   " }, ["title"], "must not be empty"],
    ["a title over 500 characters", { title: "t".repeat(501) }, ["title"], "must be at most 500 characters"],
    ["an empty workspace", { workspace: "" }, ["workspace"], undefined],
    ["a title that is not a string", { title: 42 as unknown as string }, ["title"], undefined],
  ])("%s is a ValidationError and writes nothing", async (_, input, path, message) => {
    const error = await failsCleanly(ValidationError, () => h.services.chats.create(input));
    expect(error.code).toBe("VALIDATION");
    expect(error.issues[0]!.path).toEqual(path);
    if (message) expect(error.issues[0]!.message).toBe(message);
  });
});

describe("get", () => {
  test("returns the stored chat", async () => {
    const chat = await h.services.chats.create({ title: "get me" });
    expect(await h.services.chats.get(chat.id)).toEqual(chat);
  });

  test("an unknown chat is a NotFoundError", async () => {
    const id = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.chats.get(id));
    expect(error).toMatchObject({ code: "NOT_FOUND", entity: "Chat", id });
    expect(error.message).toBe(`Chat ${id} was not found`);
  });

  test("an id that is not a UUID is a ValidationError", async () => {
    const error = await failsCleanly(ValidationError, () => h.services.chats.get("chat-1"));
    expect(error.issues).toEqual([{ path: ["id"], message: "must be a UUID" }]);
  });
});

describe("rename", () => {
  test("changes the title, publishes chat_updated with the next seq and moves last activity", async () => {
    const chat = await h.services.chats.create({ title: "old" });
    await new Promise((r) => setTimeout(r, 5));
    const renamed = await h.services.chats.rename({ id: chat.id, title: " new " });
    expect(renamed.title).toBe("new");
    const stored = await db.prisma.chat.findUniqueOrThrow({ where: { id: chat.id } });
    expect(stored.title).toBe("new");
    expect(stored.eventSeq).toBe(2);
    expect(stored.lastActivityAt.getTime()).toBeGreaterThan(chat.lastActivityAt.getTime());
    expect(await eventLog(chat.id)).toEqual([
      ["chat_created", chat.id],
      ["chat_updated", chat.id],
    ]);
  });

  test("a blank title is a ValidationError and writes nothing", async () => {
    const chat = await h.services.chats.create({ title: "keep" });
    const error = await failsCleanly(ValidationError, () => h.services.chats.rename({ id: chat.id, title: "" }));
    expect(error.issues).toEqual([{ path: ["title"], message: "must not be empty" }]);
    expect((await h.services.chats.get(chat.id)).title).toBe("keep");
  });

  test("an unknown chat is a NotFoundError and writes nothing", async () => {
    const id = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.chats.rename({ id, title: "x" }));
    expect(error).toMatchObject({ entity: "Chat", id });
  });

  test("an id in upper case names the same chat", async () => {
    const chat = await h.services.chats.create({ title: "case" });
    const renamed = await h.services.chats.rename({ id: chat.id.toUpperCase(), title: "CASE" });
    expect(renamed.id).toBe(chat.id);
    expect((await h.services.chats.get(chat.id.toUpperCase())).title).toBe("CASE");
    expect(await eventLog(chat.id)).toEqual([
      ["chat_created", chat.id],
      ["chat_updated", chat.id],
    ]);
  });
});

describe("delete", () => {
  test("removes the chat with its traces, steps, events and snapshots; chat_deleted carries the next seq", async () => {
    const other = await h.services.chats.create({ title: "bystander" });
    await h.services.traces.record({ chatId: other.id, toolName: "ls", toolInput: {}, tokens: { input: 3 } });
    await h.services.snapshots.save({ chatId: other.id, state: { messages: ["kept"] } });
    const otherBefore = await rowsOfChat(other.id);

    const chat = await h.services.chats.create({ title: "doomed" });
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "read_file", toolInput: { path: "a" }, messageId: "m1" });
    await h.services.traces.finish({ traceId: trace.id, output: "x", tokens: { input: 10, output: 2 } });
    await h.services.traces.record({ chatId: chat.id, toolName: "ls", toolInput: {}, tokens: { input: 1 } });
    await h.services.snapshots.save({ chatId: chat.id, state: { messages: [1] } });
    await h.services.snapshots.save({ chatId: chat.id, state: { messages: [1, 2] } });
    await h.services.snapshots.restore({ chatId: chat.id, turn: 1 });
    expect(await rowsOfChat(chat.id)).toEqual({ chats: 1, traces: 2, steps: 2, events: 8, heads: 1, revisions: 2 });
    const lastSeq = (await db.prisma.chat.findUniqueOrThrow({ where: { id: chat.id } })).eventSeq;
    expect(lastSeq).toBe(8);

    const deleted = await h.services.chats.delete(chat.id);
    expect(deleted).toEqual({ id: chat.id, seq: lastSeq + 1 });
    expect(await rowsOfChat(chat.id)).toEqual({ chats: 0, traces: 0, steps: 0, events: 0, heads: 0, revisions: 0 });
    expect(await rowsOfChat(other.id)).toEqual(otherBefore);

    const published = (await h.published.settle()).filter((e) => e.chatId === chat.id);
    expect(published.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(brief(published.at(-1)!)).toEqual({ chatId: chat.id, seq: 9, kind: "chat_deleted", subjectId: chat.id });
    await expect(h.services.chats.get(chat.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  test("an unknown chat is a NotFoundError and writes nothing", async () => {
    const id = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.chats.delete(id));
    expect(error).toMatchObject({ entity: "Chat", id });
  });

  test("deleting twice: the second is a NotFoundError and publishes nothing", async () => {
    const chat = await h.services.chats.create();
    await h.services.chats.delete(chat.id);
    await failsCleanly(NotFoundError, () => h.services.chats.delete(chat.id));
  });

  test("an id that is not a UUID is a ValidationError", async () => {
    const error = await failsCleanly(ValidationError, () => h.services.chats.delete("nope"));
    expect(error.issues).toEqual([{ path: ["id"], message: "must be a UUID" }]);
  });

  test("an id in upper case deletes the chat", async () => {
    const chat = await h.services.chats.create();
    expect(await h.services.chats.delete(chat.id.toUpperCase())).toEqual({ id: chat.id, seq: 2 });
    expect(await rowsOfChat(chat.id)).toMatchObject({ chats: 0, events: 0 });
  });
});
