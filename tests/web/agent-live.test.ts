// The agent's turns live in the chat view (/chats/:id, mounted in the App with a real urql Client
// whose HTTP and subscription ends are fakes): the chat's chatEvents stream brings turn_started,
// assistant_message, agent_error and turn_finished, and the panel shows the running turn (number,
// trigger, elapsed), each turn's status, messages, errors and outcome, and the timeline's marks,
// without any re-read. Also useAgent's merging rules (upsert by id, a stale read never takes an
// ended turn back to running), and the raw events table's payload for the agent's kinds.
import urql from "@urql/vue";
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, test, vi } from "vitest";
import { effectScope, ref } from "vue";
import { createMemoryHistory } from "vue-router";
import App from "../../web/src/App.vue";
import EventTable from "../../web/src/components/EventTable.vue";
import { ConnectionKey } from "../../web/src/connection";
import { useAgent } from "../../web/src/composables/useAgent";
import { createAppRouter } from "../../web/src/router";
import { agentTurn, CHAT, chatAgent } from "./agent-helpers";
import { fakeClient, fakeConnection, type FakeSubscription, settle } from "./shell-fakes";
import { fakeUrql, flush } from "./waterfall-helpers";

let wrapper: VueWrapper | undefined;
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  vi.useRealTimers();
});

const waitFor = (assertion: () => void, timeout = 3000) => vi.waitFor(assertion, { timeout, interval: 20 });
const tokens = { __typename: "TokenTotals", input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0, tokensUsed: 0 };

function handler(request: { operationName: string; variables: Record<string, unknown> }) {
  switch (request.operationName) {
    case "ChatViewHeader":
      return {
        data: {
          chat: {
            __typename: "Chat",
            id: "Q2hhdDox",
            uuid: CHAT,
            title: "Agent at work",
            workspace: null,
            stats: { __typename: "ChatStats", traceCount: 0, errorCount: 0, runningCount: 0, tokens, latencyByTool: [] },
          },
        },
      };
    case "WaterfallIndex":
      return {
        data: {
          chat: {
            __typename: "Chat",
            id: "Q2hhdDox",
            eventCursor: "cursor-0",
            tracePageCursors: [],
            tail: { edges: [] },
            traces: { totalCount: 0, edges: [] },
          },
        },
      };
    case "ChatTurns":
      return { data: { chat: { __typename: "Chat", id: "Q2hhdDox", nextTurn: 1, continuedFromTurn: null, turns: [] } } };
    case "ChatAgent":
      return chatAgent();
    default:
      return { data: null };
  }
}

async function mountChat() {
  const fake = fakeClient(handler);
  const router = createAppRouter(createMemoryHistory());
  await router.push(`/chats/${CHAT}`);
  await router.isReady();
  wrapper = mount(App, {
    attachTo: document.body,
    global: { plugins: [router, [urql, fake.client]], provide: { [ConnectionKey as symbol]: fakeConnection().info } },
  });
  await waitFor(() => expect(fake.open("ChatViewEvents")).toHaveLength(1));
  await waitFor(() => expect(fake.requests.some((r) => r.operationName === "ChatAgent")).toBe(true));
  await waitFor(() => expect(wrapper!.find('[data-testid="agent-panel"]').exists()).toBe(true));
  return { fake, stream: fake.open("ChatViewEvents")[0]! };
}

let seq = 0;
function event(kind: string, payload: { turn?: unknown; message?: unknown }) {
  seq += 1;
  return {
    data: {
      chatEvents: {
        __typename: "ChatEvent",
        cursor: `cursor-${seq}`,
        seq,
        kind,
        subjectId: `subject-${seq}`,
        trace: null,
        revision: null,
        turn: payload.turn ?? null,
        message: payload.message ?? null,
      },
    },
  };
}
const message = (id: string, turnNumber: number, kind: "assistant" | "error", text: string, second: number) => ({
  __typename: "AgentMessage",
  id,
  turnNumber,
  kind,
  text,
  createdAt: new Date(Date.UTC(2026, 0, 1, 0, turnNumber, second)).toISOString(),
});

async function deliver(stream: FakeSubscription, ...results: unknown[]) {
  for (const r of results) stream.next(r as never);
  await settle();
  await flushPromises();
}

const panel = () => wrapper!.get('[data-testid="agent-panel"]');
const turnItem = (n: number) => panel().find(`[data-testid="agent-turn"][data-turn="${n}"]`);
const timelineTurn = (n: number) => wrapper!.find(`[aria-labelledby="timeline-title"] li.turn[data-turn="${n}"]`);

describe("the chat view with the agent", () => {
  test("events show the running turn, what the agent says, its errors, and how each turn ends, live", async () => {
    seq = 0;
    const { fake, stream } = await mountChat();
    expect(stream.variables).toEqual({ chatId: CHAT, after: "cursor-0" });
    expect(panel().text()).toContain("No messages yet");
    stream.next({ data: { chatEvents: { __typename: "ChatStreamOpening", cursor: "cursor-0", seq: 0 } } });

    // Turn 1 starts (a minute ago, so the elapsed time shows minutes).
    const started = new Date(Date.now() - 62_000).toISOString();
    const running1 = agentTurn(1, { status: "running", outcome: null, finishedAt: null, prompt: "Add a greeting", startedAt: started });
    await deliver(stream, event("turn_started", { turn: running1 }));
    const line = panel().get('[data-testid="running-turn"]');
    expect(line.attributes("role")).toBe("status");
    expect(line.text()).toContain("Turn 1 running");
    expect(line.text()).toContain("your message");
    expect(line.text()).toMatch(/1 m 0[2-9] s/);
    expect(panel().get('[data-testid="cancel-turn"]').text()).toContain("Cancel turn 1");
    expect(turnItem(1).attributes("data-status")).toBe("running");
    expect(turnItem(1).text()).toContain("Add a greeting");
    expect(turnItem(1).text()).toContain("Working…");
    // The timeline lists the running turn before it has traces or a snapshot.
    expect(timelineTurn(1).find('[data-mark="status"]').text()).toContain("agent running");

    // What the agent says, and an error, in order, as they come.
    await deliver(stream, event("assistant_message", { message: message("m1", 1, "assistant", "Writing greeting.txt.", 1) }));
    expect(
      turnItem(1)
        .findAll('.messages [data-kind="assistant"]')
        .map((m) => m.text()),
    ).toEqual(["Writing greeting.txt."]);
    await deliver(stream, event("agent_error", { message: message("m2", 1, "error", "scripted: the script has no step 2", 2) }));
    const error = turnItem(1).get('.messages [data-kind="error"] .agent-error');
    expect(error.text()).toContain("Error:");
    expect(error.text()).toContain("the script has no step 2");

    // Turn 1 ends: its build failed, a fix follows.
    const done1 = {
      ...running1,
      status: "ok",
      finishedAt: new Date(Date.parse(started) + 8_000).toISOString(),
      outcome: "answered after 2 steps; build failed with exit code 1; auto-fix attempt 1 of 3 follows",
      fixFollows: true,
      messages: [message("m1", 1, "assistant", "Writing greeting.txt.", 1), message("m2", 1, "error", "scripted: the script has no step 2", 2)],
    };
    await deliver(stream, event("turn_finished", { turn: done1 }));
    expect(panel().find('[data-testid="running-turn"]').exists()).toBe(false);
    expect(panel().find('[data-testid="cancel-turn"]').exists()).toBe(false);
    expect(turnItem(1).attributes("data-status")).toBe("ok");
    expect(turnItem(1).get('[data-testid="turn-outcome"]').text()).toContain("build failed with exit code 1");
    expect(turnItem(1).get('[data-mark="build"]').text()).toContain("build failed");
    expect(turnItem(1).findAll(".messages li")).toHaveLength(2); // not doubled by the turn's own copy
    expect(timelineTurn(1).get('[data-mark="build"]').text()).toContain("build failed");

    // The auto-fix turn runs and the build passes.
    const running2 = agentTurn(2, {
      trigger: "autofix",
      fixAttempt: 1,
      status: "running",
      outcome: null,
      finishedAt: null,
      startedAt: new Date().toISOString(),
      prompt: "The build failed (npm run build, exit code 1) — auto-fix attempt 1 of 3. Fix these errors:\n\n```\ngreeting.txt: expected hello world\n```",
    });
    await deliver(stream, event("turn_started", { turn: running2 }));
    expect(panel().get('[data-testid="running-turn"]').text()).toContain("Turn 2 running");
    expect(panel().get('[data-testid="running-turn"]').text()).toContain("auto-fix 1/3");
    expect(turnItem(2).get('[data-mark="fix"]').text()).toContain("auto-fix 1/3");
    expect(turnItem(2).get('[data-testid="turn-prompt"]').text()).toContain("The build's errors, sent to the agent");
    await deliver(
      stream,
      event("assistant_message", { message: message("m3", 2, "assistant", "Fixed greeting.txt.", 3) }),
      event("turn_finished", {
        turn: {
          ...running2,
          status: "ok",
          finishedAt: new Date().toISOString(),
          outcome: "answered; build passed after 1 attempt",
          messages: [message("m3", 2, "assistant", "Fixed greeting.txt.", 3)],
        },
      }),
    );
    expect(turnItem(2).attributes("data-status")).toBe("ok");
    expect(turnItem(2).get('[data-testid="turn-outcome"]').text()).toContain("build passed after 1 attempt");
    expect(timelineTurn(2).get('[data-mark="fix"]').text()).toContain("auto-fix 1/3");
    expect(timelineTurn(2).get('[data-mark="build"]').text()).toContain("build passed after 1 attempt");
    expect(panel().find('[data-testid="running-turn"]').exists()).toBe(false);

    // All of it from the stream: the agent's data was read once.
    expect(fake.requests.filter((r) => r.operationName === "ChatAgent")).toHaveLength(1);
  });

  test("the running turn's elapsed time ticks every second", async () => {
    seq = 0;
    const { stream } = await mountChat();
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    vi.setSystemTime(Date.UTC(2026, 0, 1, 12, 0, 10));
    await deliver(
      stream,
      event("turn_started", {
        turn: agentTurn(1, { status: "running", finishedAt: null, outcome: null, startedAt: new Date(Date.UTC(2026, 0, 1, 12, 0, 0)).toISOString() }),
      }),
    );
    const elapsed = () => panel().get('[data-testid="running-turn"] .elapsed').text();
    expect(elapsed()).toBe("10 s");
    vi.advanceTimersByTime(5_000);
    await flushPromises();
    expect(elapsed()).toBe("15 s");
  });
});

describe("useAgent", () => {
  test("a read that answers after a turn_finished never takes the turn back to running; messages merge by id", async () => {
    let answer: (value: unknown) => void = () => {};
    const fake = fakeUrql((op) => (op.name === "ChatAgent" ? new Promise((resolve) => (answer = resolve)) : { data: null }));
    const scope = effectScope();
    const agent = scope.run(() => useAgent(() => CHAT, { client: fake.client }))!;
    await flush();
    // The read is out; meanwhile the turn finishes.
    agent.applyEvent({ kind: "assistant_message", message: message("m1", 1, "assistant", "hello", 1) as never });
    agent.applyEvent({ kind: "turn_finished", turn: agentTurn(1, { messages: [message("m1", 1, "assistant", "hello", 1)] }) as never });
    expect(agent.turns.value.map((t) => t.status)).toEqual(["ok"]);
    // The read was taken before: turn 1 still running there, with a message the event copy lacks.
    answer(chatAgent({ turns: [agentTurn(1, { status: "running", finishedAt: null, outcome: null, messages: [message("m0", 1, "assistant", "first", 0)] })] }));
    await flush();
    expect(agent.turns.value).toHaveLength(1);
    expect(agent.turns.value[0]!.status).toBe("ok");
    expect(agent.turns.value[0]!.messages.map((m) => m.id)).toEqual(["m0", "m1"]);
    expect(agent.activeTurn.value).toBeNull();
    // Events of other kinds are not the agent's.
    expect(agent.applyEvent({ kind: "trace_started" })).toBe(false);
    scope.stop();
  });

  test("waits for `ready` before the first read", async () => {
    const fake = fakeUrql((op) => (op.name === "ChatAgent" ? chatAgent() : { data: null }));
    const scope = effectScope();
    const ready = ref(false);
    const agent = scope.run(() => useAgent(() => CHAT, { client: fake.client, ready }))!;
    await flush();
    expect(fake.named("ChatAgent")).toHaveLength(0);
    ready.value = true;
    await flush();
    expect(fake.named("ChatAgent").map((o) => o.variables)).toEqual([{ id: CHAT, last: 50 }]);
    expect(agent.status.value?.enabled).toBe(true);
    expect(agent.loading.value).toBe(false);
    scope.stop();
  });
});

describe("EventTable with the agent's events", () => {
  test("shows an agent turn's number, status and trigger, and a message's words, errors marked", () => {
    const base = { cursor: "c", at: "2026-11-24T21:08:15.123Z", chatId: CHAT, subjectId: "s" };
    const w = mount(EventTable, {
      props: {
        label: "Events",
        events: [
          { ...base, seq: 1, kind: "turn_started" as const, turn: { id: "t2", turnNumber: 2, trigger: "autofix", status: "running" as const, fixAttempt: 1, outcome: null } },
          { ...base, seq: 2, kind: "assistant_message" as const, message: { id: "m1", turnNumber: 2, kind: "assistant", text: "Fixing it.\nSecond line" } },
          { ...base, seq: 3, kind: "agent_error" as const, message: { id: "m2", turnNumber: 2, kind: "error", text: "the model request failed" } },
        ],
      },
    });
    const rows = w.findAll("tbody tr"); // newest first
    expect(rows[2]!.text()).toContain("agent turn 2");
    expect(rows[2]!.text()).toContain("running");
    expect(rows[2]!.text()).toContain("auto-fix 1");
    expect(rows[1]!.text()).toContain("Fixing it.");
    expect(rows[1]!.text()).not.toContain("Second line");
    expect(rows[0]!.find(".error-text").text()).toBe("the model request failed");
  });
});
