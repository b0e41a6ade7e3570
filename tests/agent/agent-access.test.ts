// Who may run Tracedeck's agent, and what it refuses, in process through GraphQL: a disabled agent
// (AGENT_ENABLED, or a HOST beyond loopback) refuses every call that would run or rewind something
// with AgentDisabledError naming the reason, and writes nothing; bad input to sendMessage and
// updateAgentSettings comes back as a typed error whose issue paths start at the mutation's
// arguments, again writing nothing; and a restore while a turn runs is a conflict.
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { agentConfigFrom, loadConfig } from "../../server/config.js";
import type { PrismaClient } from "../../server/db/generated/prisma/client.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { makeTempDir, removeDir } from "./helpers.js";
import { type AgentHarness, agentGql, startAgentHarness, stopAgentHarness } from "./harness.js";

/** Every table of the data model, the agent's included (agent_runs is not: its heartbeat changes it on its own). */
const fingerprint = (prisma: PrismaClient) => databaseFingerprint(prisma);

const SEND = `mutation($chatId: ID!, $text: String!) { sendMessage(chatId: $chatId, text: $text) { __typename ... on SendMessagePayload { turnNumber } ... on Error { message } ... on ValidationError { issues { path message } } ... on NotFoundError { entity id } } }`;
const CANCEL = `mutation($chatId: ID!) { cancelTurn(chatId: $chatId) { __typename ... on CancelTurnPayload { turn { status } } ... on Error { message } } }`;
const RESTORE = `mutation($chatId: ID!, $turn: Int!, $rewindFiles: Boolean) { restoreSnapshot(chatId: $chatId, turn: $turn, rewindFiles: $rewindFiles) { __typename ... on RestoreSnapshotPayload { nextTurn files { rewritten } } ... on Error { message } ... on ConflictError { entity id } } }`;
const SETTINGS = `mutation($chatId: ID!, $input: AgentSettingsInput!) { updateAgentSettings(chatId: $chatId, input: $input) { __typename ... on AgentSettings { provider model workspace buildCommand fixAttempts stored } ... on Error { message } ... on ValidationError { issues { path message } } } }`;

function client(h: () => AgentHarness) {
  const gql = agentGql(h);
  /** The mutation's one result. */
  const result = async (query: string, variables?: Record<string, unknown>) => Object.values(await gql(query, variables))[0] as Record<string, any>;
  const newChat = async () => (await gql(`mutation { createChat(input: { title: "access" }) { ... on Chat { uuid } } }`)).createChat.uuid as string;
  /** Runs the call and checks that it wrote nothing at all. */
  async function writesNothing<T>(call: () => Promise<T>): Promise<T> {
    const before = await fingerprint(h().db.prisma);
    const value = await call();
    expect(await fingerprint(h().db.prisma)).toEqual(before);
    return value;
  }
  return { gql, result, newChat, writesNothing };
}

describe("AGENT_ENABLED: a disabled agent", () => {
  const REASON = "the agent is disabled on this test server (AGENT_ENABLED=false)";
  let h: AgentHarness;
  const c = client(() => h);
  beforeAll(async () => {
    h = await startAgentHarness(() => ({ enabled: false, disabledReason: REASON }));
  });
  afterAll(() => stopAgentHarness(h));

  test("agentStatus says so, with the reason", async () => {
    expect((await c.gql(`{ agentStatus { enabled disabledReason } }`)).agentStatus).toEqual({ enabled: false, disabledReason: REASON });
  });

  test("sendMessage, cancelTurn and restoreSnapshot(rewindFiles: true) are AgentDisabledError with the reason, and write nothing", async () => {
    const chat = await c.newChat();
    const saved = await c.result(`mutation($chatId: ID!) { saveSnapshot(input: { chatId: $chatId, turn: 1, state: { messages: [] } }) { __typename } }`, { chatId: chat });
    expect(saved.__typename).toBe("SnapshotRevision");

    const refused = { __typename: "AgentDisabledError", message: REASON };
    await c.writesNothing(async () => {
      expect(await c.result(SEND, { chatId: chat, text: "hello" })).toEqual(refused);
      // Disabled wins over the input's other problems: nothing about the agent is checked.
      expect(await c.result(SEND, { chatId: chat, text: "" })).toEqual(refused);
      expect(await c.result(CANCEL, { chatId: chat })).toEqual(refused);
      expect(await c.result(RESTORE, { chatId: chat, turn: 1, rewindFiles: true })).toEqual(refused);
    });
    // No workspace was created either.
    expect(readdirSync(h.root)).toEqual([]);
    // A restore without rewinding files is no agent work: it still works.
    expect(await c.result(RESTORE, { chatId: chat, turn: 1, rewindFiles: false })).toMatchObject({ __typename: "RestoreSnapshotPayload", nextTurn: 2, files: null });
  });
});

describe("AGENT_ENABLED in the configuration", () => {
  test("unset on a loopback HOST: on", () => {
    expect(agentConfigFrom(loadConfig({}))).toMatchObject({ enabled: true, disabledReason: null });
    expect(agentConfigFrom(loadConfig({ HOST: "127.0.0.2" }))).toMatchObject({ enabled: true, disabledReason: null });
  });

  test("unset with HOST beyond loopback (and ALLOWED_HOSTS): off, with a reason naming HOST", () => {
    const agent = agentConfigFrom(loadConfig({ HOST: "0.0.0.0", ALLOWED_HOSTS: "tracedeck.example.com" }));
    expect(agent.enabled).toBe(false);
    expect(agent.disabledReason).toContain("HOST=0.0.0.0");
    expect(agent.disabledReason).toContain("AGENT_ENABLED=true");
  });

  test("AGENT_ENABLED=true turns it on beyond loopback; AGENT_ENABLED=false turns it off on loopback", () => {
    expect(agentConfigFrom(loadConfig({ HOST: "0.0.0.0", ALLOWED_HOSTS: "tracedeck.example.com", AGENT_ENABLED: "true" }))).toMatchObject({ enabled: true, disabledReason: null });
    const off = agentConfigFrom(loadConfig({ AGENT_ENABLED: "false" }));
    expect(off.enabled).toBe(false);
    expect(off.disabledReason).toMatch(/AGENT_ENABLED=false/);
  });

  test("a value that is not a boolean stops start-up naming the variable", () => {
    expect(() => loadConfig({ AGENT_ENABLED: "maybe" })).toThrow(/AGENT_ENABLED="maybe": must be true or false/);
  });
});

describe("bad input: typed errors rooted at the mutation's arguments, nothing written", () => {
  let h: AgentHarness;
  let outside: string;
  const c = client(() => h);
  beforeAll(async () => {
    h = await startAgentHarness();
    outside = makeTempDir("tracedeck-agent-access-outside-");
  });
  afterAll(async () => {
    await stopAgentHarness(h);
    removeDir(outside);
  });

  const paths = (r: Record<string, any>) => (r.issues as { path: string[] }[]).map((i) => i.path);

  test("sendMessage: empty text, a bad chat id, a missing chat", async () => {
    const chat = await c.newChat();
    await c.writesNothing(async () => {
      for (const text of ["", "   \n\t"]) {
        const empty = await c.result(SEND, { chatId: chat, text });
        expect(empty.__typename).toBe("ValidationError");
        expect(paths(empty)).toEqual([["text"]]);
        expect(empty.message).toMatch(/text: must not be empty/);
      }
      const tooLong = await c.result(SEND, { chatId: chat, text: "x".repeat(100_001) });
      expect(tooLong.__typename).toBe("ValidationError");
      expect(paths(tooLong)).toEqual([["text"]]);

      const badId = await c.result(SEND, { chatId: "not-a-chat-id", text: "hello" });
      expect(badId.__typename).toBe("ValidationError");
      expect(paths(badId)).toEqual([["chatId"]]);

      const missingId = "00000000-0000-4000-8000-000000000000";
      const missing = await c.result(SEND, { chatId: missingId, text: "hello" });
      expect(missing).toMatchObject({ __typename: "NotFoundError", entity: "Chat", id: missingId });
    });
    expect(readdirSync(h.root)).toEqual([]);
  });

  test("updateAgentSettings: a workspace outside AGENT_WORKSPACES_ROOT (absolute, or with ..)", async () => {
    const chat = await c.newChat();
    await c.writesNothing(async () => {
      for (const workspace of ["/etc", "../x", "a/../../x", join(h.root, "..", "elsewhere")]) {
        const refused = await c.result(SETTINGS, { chatId: chat, input: { workspace } });
        expect(refused.__typename, workspace).toBe("ValidationError");
        expect(paths(refused)).toEqual([["input", "workspace"]]);
        expect(refused.issues[0].message).toContain(`must be a folder inside AGENT_WORKSPACES_ROOT (${h.root})`);
      }
    });
    // Inside the root, absolute or relative, is stored relative to it.
    expect(await c.result(SETTINGS, { chatId: chat, input: { workspace: join(h.root, "inside") } })).toMatchObject({ __typename: "AgentSettings", workspace: "inside" });
  });

  test("a symlink inside the root that leads outside: sendMessage refuses with a message naming where it leads, writing nothing", async () => {
    const chat = await c.newChat();
    symlinkSync(outside, join(h.root, "escape"));
    // The setting is a name inside the root: taken (the folder is checked when a turn starts).
    expect(await c.result(SETTINGS, { chatId: chat, input: { provider: "scripted", model: "any", workspace: "escape" } })).toMatchObject({
      __typename: "AgentSettings",
      workspace: "escape",
    });
    const refused = await c.writesNothing(() => c.result(SEND, { chatId: chat, text: "hello" }));
    expect(refused.__typename).toBe("ValidationError");
    // The bad value is the chat's agent setting, named as such (sendMessage has no such argument).
    expect(paths(refused)).toEqual([["workspace"]]);
    expect(refused.issues[0].message).toBe(`must be a folder inside AGENT_WORKSPACES_ROOT (${h.root}); ${join(h.root, "escape")} leads to ${outside}`);
    expect(readdirSync(outside)).toEqual([]);
    // The chat is not stuck: no turn was left claimed.
    expect((await c.gql(`query($id: ID!) { chat(id: $id) { activeTurn { turnNumber } agentTurns { turnNumber } } }`, { id: chat })).chat).toEqual({ activeTurn: null, agentTurns: [] });
  });

  test("updateAgentSettings: an unknown provider, a build command with NUL, fixAttempts 99, an empty model, a bad chat id, a missing chat", async () => {
    const chat = await c.newChat();
    const cases: [Record<string, unknown>, string[][]][] = [
      [{ provider: "gemini" }, [["input", "provider"]]],
      [{ buildCommand: ["make", "a\u0000b"] }, [["input", "buildCommand", "1"]]],
      [{ buildCommand: ["", "x"] }, [["input", "buildCommand"]]],
      [{ fixAttempts: 99 }, [["input", "fixAttempts"]]],
      [{ fixAttempts: -1 }, [["input", "fixAttempts"]]],
      [{ model: "  " }, [["input", "model"]]],
      [{ workspace: "a\u0000b" }, [["input", "workspace"]]],
    ];
    await c.writesNothing(async () => {
      for (const [input, expected] of cases) {
        const refused = await c.result(SETTINGS, { chatId: chat, input });
        expect(refused.__typename, JSON.stringify(input)).toBe("ValidationError");
        expect(paths(refused), JSON.stringify(input)).toEqual(expected);
      }
      const provider = await c.result(SETTINGS, { chatId: chat, input: { provider: "gemini" } });
      expect(provider.issues[0].message).toBe("must be openai, anthropic or scripted");
      const fix = await c.result(SETTINGS, { chatId: chat, input: { fixAttempts: 99 } });
      expect(fix.issues[0].message).toBe("must be at most 20");
      const nul = await c.result(SETTINGS, { chatId: chat, input: { buildCommand: ["make", "a\u0000b"] } });
      expect(nul.issues[0].message).toMatch(/must not contain NUL/);

      const badId = await c.result(SETTINGS, { chatId: "nope", input: { fixAttempts: 1 } });
      expect(badId.__typename).toBe("ValidationError");
      expect(paths(badId)).toEqual([["chatId"]]);
      const missingId = "00000000-0000-4000-8000-000000000001";
      expect(await c.result(SETTINGS, { chatId: missingId, input: { fixAttempts: 1 } })).toMatchObject({ __typename: "NotFoundError", message: expect.any(String) });
    });
    expect(readdirSync(h.root).filter((n) => n !== "escape" && n !== "inside")).toEqual([]);
  });

  test("cancelTurn with a bad chat id, on a missing chat, and on a chat with no running turn", async () => {
    const chat = await c.newChat();
    await c.writesNothing(async () => {
      const badId = await c.result(`mutation { cancelTurn(chatId: "x") { __typename ... on ValidationError { issues { path } } } }`);
      expect(badId).toEqual({ __typename: "ValidationError", issues: [{ path: ["chatId"] }] });
      expect((await c.result(CANCEL, { chatId: "00000000-0000-4000-8000-000000000002" })).__typename).toBe("NotFoundError");
      expect(await c.result(CANCEL, { chatId: chat })).toEqual({ __typename: "NotFoundError", message: "this chat has no running turn" });
    });
  });

  test("restoreSnapshot while a turn runs is a ConflictError and changes nothing; after cancelTurn it works", async () => {
    writeFileSync(
      join(h.scripts, "sleepy.json"),
      JSON.stringify({
        steps: [
          { toolCalls: [{ name: "write_file", input: { path: "f.txt", content: "1\n" } }] },
          { text: "turn 1" },
          { toolCalls: [{ name: "run_command", input: { program: "sleep", args: ["30"], timeoutMs: 60_000 } }] },
          { text: "slept" },
        ],
      }),
    );
    const chat = await c.newChat();
    mkdirSync(join(h.root, "sleepy"));
    expect((await c.result(SETTINGS, { chatId: chat, input: { provider: "scripted", model: "sleepy", workspace: "sleepy", buildCommand: [] } })).__typename).toBe("AgentSettings");
    expect(await c.result(SEND, { chatId: chat, text: "one" })).toEqual({ __typename: "SendMessagePayload", turnNumber: 1 });
    await h.t.app.agent.idle(chat);
    expect(await c.result(SEND, { chatId: chat, text: "two" })).toEqual({ __typename: "SendMessagePayload", turnNumber: 2 });
    const deadline = Date.now() + 10_000;
    while ((await h.db.prisma.toolTrace.count({ where: { chatId: chat, toolName: "run_command", status: "running" } })) === 0) {
      if (Date.now() > deadline) throw new Error("the command did not start");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }

    const revisionsBefore = await h.db.prisma.agentSnapshotRevision.findMany({ where: { chatId: chat }, orderBy: { turn: "asc" } });
    const headBefore = await h.db.prisma.agentSnapshot.findUniqueOrThrow({ where: { chatId: chat } });
    for (const rewindFiles of [true, false]) {
      const conflict = await c.result(RESTORE, { chatId: chat, turn: 1, rewindFiles });
      expect(conflict).toMatchObject({ __typename: "ConflictError", entity: "Chat", id: chat });
      expect(conflict.message).toMatch(/a turn of this chat is running; cancel it \(cancelTurn\) before restoring/);
    }
    expect(await h.db.prisma.agentSnapshotRevision.findMany({ where: { chatId: chat }, orderBy: { turn: "asc" } })).toEqual(revisionsBefore);
    expect(await h.db.prisma.agentSnapshot.findUniqueOrThrow({ where: { chatId: chat } })).toEqual(headBefore);

    expect(await c.result(CANCEL, { chatId: chat })).toEqual({ __typename: "CancelTurnPayload", turn: { status: "cancelled" } });
    // Turn numbers are never reused: the cancelled turn 2 saved a snapshot, so the next turn is 3.
    expect(await c.result(RESTORE, { chatId: chat, turn: 1, rewindFiles: true })).toMatchObject({ __typename: "RestoreSnapshotPayload", nextTurn: 3 });
  });
});
