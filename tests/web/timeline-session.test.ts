import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import SessionTimeline from "../../web/src/components/timeline/SessionTimeline.vue";
import RevisionState from "../../web/src/components/timeline/RevisionState.vue";
import { parseConversation } from "../../web/src/lib/conversation";
import { fakeUrql, flush } from "./waterfall-helpers";

const tokens = { input: 10, output: 5, cacheRead: 0, cacheWrite: 0, reasoning: 0, tokensUsed: 15 };
function turn(n: number, revision: Record<string, unknown> | null, over: Record<string, unknown> = {}) {
  return {
    turn: n,
    traceCount: 10 * n,
    errorCount: n === 2 ? 1 : 0,
    runningCount: 0,
    startedAt: new Date(Date.UTC(2026, 0, 1, n)).toISOString(),
    endedAt: new Date(Date.UTC(2026, 0, 1, n, 5)).toISOString(),
    firstIndex: 0,
    tokens,
    revision: revision && {
      id: `rev${n}`,
      uuid: `uuid-${n}`,
      turn: n,
      createdAt: new Date(Date.UTC(2026, 0, 1, n, 6)).toISOString(),
      isCurrent: false,
      restoredFrom: null,
      supersededAt: null,
      sessionId: "s1",
      stateBytes: 2048,
      ...revision,
    },
    ...over,
  };
}

// Turn 1 saved; turn 2 superseded by a restore to turn 1; turn 3 continued from turn 1 (current); turn 4 saved.
const turns = [turn(1, {}), turn(2, { supersededAt: "2026-01-01T05:00:00.000Z" }), turn(3, { restoredFrom: 1, isCurrent: true }), turn(4, {}), turn(5, null)];

function mountTimeline(handler: Parameters<typeof fakeUrql>[0] = () => ({ data: null })) {
  const fake = fakeUrql(handler);
  const w = mount(SessionTimeline, {
    props: { chatId: "chat-1", turns, chat: { nextTurn: 5, continuedFromTurn: 1 }, client: fake.client },
    attachTo: document.body,
  });
  return { w, fake };
}

describe("SessionTimeline", () => {
  it("lists the turns with their revisions, superseded ones marked, continuations said", () => {
    const { w } = mountTimeline();
    const items = w.findAll("li.turn[data-turn]");
    expect(items.map((i) => i.attributes("data-turn"))).toEqual(["1", "2", "3", "4", "5"]);
    expect(items[0]!.find('[data-testid="superseded"]').exists()).toBe(false);
    expect(items[1]!.find('[data-testid="superseded"]').text()).toContain("superseded");
    expect(items[1]!.classes()).toContain("superseded");
    expect(items[2]!.find('[data-testid="continued-from"]').text()).toContain("continued from turn 1");
    expect(items[2]!.text()).toContain("current");
    expect(items[4]!.find('[data-testid="revision"]').exists()).toBe(false);
    expect(items[4]!.text()).toContain("No snapshot saved yet");
    expect(w.find('[data-testid="next-turn"]').text()).toContain("Next: turn 5");
    expect(w.find('[data-testid="chat-continued-from"]').text()).toContain("continues from turn 1");
    w.unmount();
  });

  it("asks to scroll the waterfall to a turn when its button is pressed", async () => {
    const { w } = mountTimeline();
    await w.findAll("button.turn-button")[3]!.trigger("click");
    expect(w.emitted("jump")).toEqual([[4]]);
    w.unmount();
  });

  it("moves between turns with the arrow keys", async () => {
    const { w } = mountTimeline();
    const buttons = w.findAll("button.turn-button");
    (buttons[0]!.element as HTMLElement).focus();
    await w.find("ol.turns").trigger("keydown", { key: "ArrowDown" });
    expect(document.activeElement).toBe(buttons[1]!.element);
    await w.find("ol.turns").trigger("keydown", { key: "End" });
    expect(document.activeElement).toBe(buttons[4]!.element);
    w.unmount();
  });

  it("restores only after confirmation, then shows the next turn and the superseded turns", async () => {
    const { w, fake } = mountTimeline((op) =>
      op.name === "RestoreSnapshot"
        ? { data: { restoreSnapshot: { __typename: "RestoreSnapshotPayload", nextTurn: 5, sessionId: "0f1e2d3c-new", revision: { __typename: "SnapshotRevision", id: "rev1", turn: 1 } } } }
        : { data: null },
    );
    const restoreButtons = () => w.findAll("li.turn .rev-actions button").filter((b) => b.text().startsWith("Restore"));
    // Turn 3 is current: its Restore is disabled.
    expect(restoreButtons()[2]!.attributes("disabled")).toBeDefined();

    await restoreButtons()[0]!.trigger("click");
    const dialog = () => w.find('[role="alertdialog"]');
    expect(dialog().exists()).toBe(true);
    expect(dialog().attributes("aria-modal")).toBe("true");
    const labelledBy = dialog().attributes("aria-labelledby")!;
    expect(w.find(`#${CSS.escape(labelledBy)}`).text()).toBe("Restore this snapshot?");
    // Turn 2 is superseded already: turns 3 and 4 are the ones this restore will supersede.
    expect(dialog().text()).toContain("Turns 3–4 will be marked superseded");

    // Cancel: nothing is called.
    await dialog().findAll("button").find((b) => b.text() === "Cancel")!.trigger("click");
    expect(dialog().exists()).toBe(false);
    expect(fake.named("RestoreSnapshot")).toHaveLength(0);

    await restoreButtons()[0]!.trigger("click");
    await w.find('[data-testid="confirm-restore"]').trigger("click");
    await flush();
    expect(fake.named("RestoreSnapshot").map((o) => o.variables)).toEqual([{ chatId: "chat-1", turn: 1, rewindFiles: false }]);
    expect(w.emitted("restored")).toEqual([[1]]);
    expect(dialog().exists()).toBe(false);
    const result = w.find('[data-testid="restore-result"]');
    expect(result.text()).toContain("Restored turn 1");
    expect(result.text()).toContain("continues with turn 5");

    // The view refetches the turns: now 2, 3 and 4 are superseded.
    await w.setProps({
      turns: [
        turn(1, { isCurrent: true }),
        turn(2, { supersededAt: "2026-01-01T05:00:00.000Z" }),
        turn(3, { restoredFrom: 1, supersededAt: "2026-01-02T00:00:00.000Z" }),
        turn(4, { supersededAt: "2026-01-02T00:00:00.000Z" }),
      ],
    });
    expect(w.find('[data-testid="restore-result"]').text()).toContain("Superseded now: turns 2–4");
    w.unmount();
  });

  it("shows a refused restore in the dialog", async () => {
    const { w } = mountTimeline(() => ({ data: { restoreSnapshot: { __typename: "NotFoundError", message: "No revision for turn 4" } } }));
    await w.findAll("li.turn .rev-actions button").filter((b) => b.text().startsWith("Restore"))[3]!.trigger("click");
    await w.find('[data-testid="confirm-restore"]').trigger("click");
    await flush();
    const dialog = w.find('[role="alertdialog"]');
    expect(dialog.exists()).toBe(true);
    expect(dialog.find('[role="alert"]').text()).toContain("No revision for turn 4");
    expect(w.emitted("restored")).toBeUndefined();
    w.unmount();
  });

  it("shows the turns' error where the list would be", () => {
    const fake = fakeUrql(() => ({ data: null }));
    const w = mount(SessionTimeline, { props: { chatId: "c", turns: [], chat: null, error: new Error("DATABASE_UNAVAILABLE"), client: fake.client } });
    expect(w.find('[role="alert"]').text()).toContain("Could not load the turns");
    expect(w.find('[role="alert"]').text()).toContain("DATABASE_UNAVAILABLE");
  });
});

describe("RevisionState", () => {
  const messages = [
    { role: "user", content: "Fix the build" },
    {
      role: "assistant",
      content: [
        { type: "text", text: "Reading it." },
        { type: "tool_use", id: "tu_1", name: "read_file", input: { path: "package.json" } },
      ],
    },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "tu_1", content: [{ type: "text", text: "ENOENT" }], is_error: true }] },
  ];

  function mountState(state: unknown) {
    const fake = fakeUrql((op) => ({ data: { node: { __typename: "SnapshotRevision", id: op.variables.id, turn: 3, state, stateBytes: 321 } } }));
    return { w: mount(RevisionState, { props: { revisionId: "rev3", client: fake.client } }), fake };
  }

  it("shows state.messages as a conversation, with the raw JSON under a toggle", async () => {
    const { w, fake } = mountState({ messages, model: "m" });
    await flush();
    expect(fake.named("RevisionState")[0]!.variables).toEqual({ id: "rev3" });
    const items = w.findAll('[data-testid="conversation"] > li');
    expect(items.map((i) => i.find(".role").text())).toEqual(["user", "assistant", "user"]);
    expect(items[0]!.text()).toContain("Fix the build");
    expect(items[1]!.find(".tool-use").text()).toContain("read_file");
    expect(items[1]!.find(".tool-use pre").text()).toContain('"path": "package.json"');
    expect(items[2]!.find(".tool-result").classes()).toContain("failed");
    expect(items[2]!.find(".tool-result pre").text()).toBe("ENOENT");
    const toggle = w.findAll("button").find((b) => b.text() === "Raw JSON")!;
    expect(toggle.attributes("aria-pressed")).toBe("false");
    await toggle.trigger("click");
    expect(w.find('[data-testid="raw-state"]').text()).toContain('"model": "m"');
  });

  it("shows other states as raw JSON", async () => {
    const { w } = mountState({ todo: ["a"], messages: "not a list" });
    await flush();
    expect(w.find('[data-testid="conversation"]').exists()).toBe(false);
    expect(w.find('[data-testid="raw-state"]').text()).toContain('"todo"');
  });
});

describe("parseConversation", () => {
  it("reads the convention and refuses anything else", () => {
    expect(parseConversation({ messages: [{ role: "user", content: "hi" }] })).toEqual([{ role: "user", blocks: [{ type: "text", text: "hi" }] }]);
    expect(parseConversation({ messages: [{ role: "assistant", content: [{ type: "image", source: {} }] }] })).toEqual([
      { role: "assistant", blocks: [{ type: "other", value: { type: "image", source: {} } }] },
    ]);
    expect(parseConversation({ messages: [{ content: "no role" }] })).toBeNull();
    expect(parseConversation({ messages: [{ role: "user", content: 42 }] })).toBeNull();
    expect(parseConversation({})).toBeNull();
    expect(parseConversation(null)).toBeNull();
    expect(parseConversation([1])).toBeNull();
  });
});
