// The agent's message box and settings (happy-dom): Send and Ctrl+Enter call sendMessage; the
// server's typed refusals (ConflictError, ValidationError with issues, AgentDisabledError) are
// shown under the box with the text kept; Cancel while a turn runs calls cancelTurn; a server
// without the agent shows one line with the reason; the settings form sends only what changed.
import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { effectScope } from "vue";
import AgentSettingsForm from "../../web/src/components/agent/AgentSettingsForm.vue";
import MessageBox from "../../web/src/components/agent/MessageBox.vue";
import { useAgent } from "../../web/src/composables/useAgent";
import { agentTurn, CHAT, chatAgent, settings } from "./agent-helpers";
import { fakeUrql, flush, type Handler } from "./waterfall-helpers";

const scopes: ReturnType<typeof effectScope>[] = [];
afterEach(() => {
  for (const s of scopes.splice(0)) s.stop();
  document.body.innerHTML = "";
});

async function setup(handler: Handler, component: typeof MessageBox | typeof AgentSettingsForm = MessageBox) {
  const fake = fakeUrql(handler);
  const scope = effectScope();
  scopes.push(scope);
  const agent = scope.run(() => useAgent(() => CHAT, { client: fake.client }))!;
  await flush();
  const w = mount(component, { props: { agent }, attachTo: document.body });
  await flushPromises();
  return { fake, agent, w };
}

describe("MessageBox", () => {
  it("sends the text with Send, shows the running turn's Cancel, and clears the box", async () => {
    const { fake, agent, w } = await setup((op) => {
      if (op.name === "ChatAgent") return chatAgent();
      if (op.name === "SendMessage")
        return {
          data: {
            sendMessage: {
              __typename: "SendMessagePayload",
              turnNumber: 1,
              turn: agentTurn(1, { status: "running", outcome: null, finishedAt: null, prompt: op.variables.text }),
            },
          },
        };
      if (op.name === "CancelTurn")
        return {
          data: { cancelTurn: { __typename: "CancelTurnPayload", turn: agentTurn(1, { status: "cancelled", outcome: "cancelled: cancelled by the user" }) } },
        };
      return { data: null };
    });
    const send = w.get('[data-testid="send-message"]');
    expect(send.attributes("disabled")).toBeDefined(); // nothing typed yet
    await w.get("textarea").setValue("Add a README");
    expect(send.attributes("disabled")).toBeUndefined();
    await w.get("form").trigger("submit");
    await flushPromises();
    await flush();
    expect(fake.named("SendMessage").map((o) => o.variables)).toEqual([{ chatId: CHAT, text: "Add a README" }]);
    expect((w.get("textarea").element as HTMLTextAreaElement).value).toBe("");
    // The returned turn is running: Send waits, Cancel is offered.
    expect(agent.activeTurn.value?.turnNumber).toBe(1);
    expect(w.get('[data-testid="send-message"]').attributes("disabled")).toBeDefined();
    const cancel = w.get('[data-testid="cancel-turn"]');
    expect(cancel.text()).toContain("Cancel turn 1");
    await cancel.trigger("click");
    await flushPromises();
    await flush();
    expect(fake.named("CancelTurn").map((o) => o.variables)).toEqual([{ chatId: CHAT }]);
    expect(agent.turns.value[0]!.status).toBe("cancelled");
    expect(w.find('[data-testid="cancel-turn"]').exists()).toBe(false);
  });

  it("Ctrl+Enter and Cmd+Enter send; Enter alone does not", async () => {
    const { fake, w } = await setup((op) => {
      if (op.name === "ChatAgent") return chatAgent();
      if (op.name === "SendMessage") return { data: { sendMessage: { __typename: "SendMessagePayload", turnNumber: 1, turn: agentTurn(1) } } };
      return { data: null };
    });
    const box = w.get("textarea");
    await box.setValue("first");
    await box.trigger("keydown", { key: "Enter" });
    await flushPromises();
    expect(fake.named("SendMessage")).toHaveLength(0);
    await box.trigger("keydown", { key: "Enter", ctrlKey: true });
    await flushPromises();
    await flush();
    await box.setValue("second");
    await box.trigger("keydown", { key: "Enter", metaKey: true });
    await flushPromises();
    await flush();
    expect(fake.named("SendMessage").map((o) => o.variables.text)).toEqual(["first", "second"]);
  });

  it("shows a ConflictError inline, clearly, and keeps the text", async () => {
    const { w, agent } = await setup((op) => {
      if (op.name === "ChatAgent") return chatAgent();
      if (op.name === "SendMessage")
        return {
          data: {
            sendMessage: {
              __typename: "ConflictError",
              message: "a turn of this chat is still running; wait for it to finish or cancel it (cancelTurn)",
              entity: "Chat",
              id: CHAT,
            },
          },
        };
      return { data: null };
    });
    await w.get("textarea").setValue("Another thing");
    await w.get("form").trigger("submit");
    await flushPromises();
    await flush();
    const alert = w.get('[data-testid="agent-action-error"]');
    expect(alert.attributes("role")).toBe("alert");
    expect(alert.text()).toContain("Not sent: Conflict");
    expect(alert.text()).toContain("a turn of this chat is still running");
    expect(alert.text()).toContain("ConflictError");
    expect(agent.sendError.value).toMatchObject({ type: "ConflictError" });
    expect((w.get("textarea").element as HTMLTextAreaElement).value).toBe("Another thing");
  });

  it("shows a ValidationError's issues once, and an AgentDisabledError says the agent is off", async () => {
    // The server's message lists the issues: they are not repeated under it.
    let answer: unknown = {
      __typename: "ValidationError",
      message: "workspace: the folder /srv/workspaces/gone does not exist",
      issues: [{ __typename: "FieldIssue", path: ["workspace"], message: "the folder /srv/workspaces/gone does not exist" }],
    };
    const { w } = await setup((op) => (op.name === "ChatAgent" ? chatAgent() : op.name === "SendMessage" ? { data: { sendMessage: answer } } : { data: null }));
    await w.get("textarea").setValue("x".repeat(10));
    await w.get("form").trigger("submit");
    await flushPromises();
    await flush();
    let alert = w.get('[data-testid="agent-action-error"]');
    expect(alert.text()).toContain("Not sent: Not accepted");
    expect(alert.text()).toContain("workspace: the folder /srv/workspaces/gone does not exist");
    expect(alert.text().split("does not exist")).toHaveLength(2);
    expect(alert.find(".issues").exists()).toBe(false);
    expect(alert.text()).toContain("ValidationError");

    // A message that does not say them: the issues are listed, each with its path.
    answer = { __typename: "ValidationError", message: "The input is not valid", issues: [{ __typename: "FieldIssue", path: ["text"], message: "must be at most 100000 characters" }] };
    await w.get("form").trigger("submit");
    await flushPromises();
    await flush();
    alert = w.get('[data-testid="agent-action-error"]');
    expect(alert.find(".issues").text()).toContain("text must be at most 100000 characters");

    answer = { __typename: "AgentDisabledError", message: "the server is stopping" };
    await w.get("form").trigger("submit");
    await flushPromises();
    await flush();
    alert = w.get('[data-testid="agent-action-error"]');
    expect(alert.text()).toContain("Not sent: The agent is off");
    expect(alert.text()).toContain("the server is stopping");
    expect(w.findAll('[data-testid="agent-action-error"]')).toHaveLength(1);
  });

  it("shows a NotFoundError from cancelTurn", async () => {
    const { w } = await setup((op) => {
      if (op.name === "ChatAgent") return chatAgent({ turns: [agentTurn(1, { status: "running", finishedAt: null, outcome: null })] });
      if (op.name === "CancelTurn")
        return { data: { cancelTurn: { __typename: "NotFoundError", message: "this chat has no running turn", entity: "AgentTurn", id: CHAT } } };
      return { data: null };
    });
    await w.get('[data-testid="cancel-turn"]').trigger("click");
    await flushPromises();
    await flush();
    const alert = w.get('[data-testid="agent-action-error"]');
    expect(alert.text()).toContain("Not cancelled: Not found");
    expect(alert.text()).toContain("this chat has no running turn");
  });

  it("when the server runs no agent, says so in one line instead of the box", async () => {
    const { w } = await setup((op) => (op.name === "ChatAgent" ? chatAgent({ enabled: false }) : { data: null }));
    const note = w.get('[data-testid="agent-disabled"]');
    expect(note.text()).toContain("the agent is disabled (AGENT_ENABLED=false)");
    expect(w.find("textarea").exists()).toBe(false);
    expect(w.find("button").exists()).toBe(false);
  });
});

describe("AgentSettingsForm", () => {
  it("shows provider, model and workspace, and sends only the fields changed", async () => {
    const { fake, w, agent } = await setup((op) => {
      if (op.name === "ChatAgent") return chatAgent();
      if (op.name === "UpdateAgentSettings") {
        const input = op.variables.input as Record<string, string>;
        if (input.workspace === "../outside")
          return {
            data: {
              updateAgentSettings: {
                __typename: "ValidationError",
                message: "workspace: must be a folder inside AGENT_WORKSPACES_ROOT (/srv/workspaces)",
                issues: [{ path: ["workspace"], message: "must be a folder inside AGENT_WORKSPACES_ROOT (/srv/workspaces)" }],
              },
            },
          };
        return { data: { updateAgentSettings: { ...settings, ...input, stored: true } } };
      }
      return { data: null };
    }, AgentSettingsForm);
    const line = w.get('[data-testid="agent-settings"]');
    expect(line.text()).toContain("scripted");
    expect(line.text()).toContain("demo");
    expect(line.text()).toContain(`chat-${CHAT}`);
    expect(line.text()).toContain("defaults");

    await w
      .findAll("button")
      .find((b) => b.text() === "Change…")!
      .trigger("click");
    const form = w.get('form[aria-label="Agent settings"]');
    await form.get('input[placeholder="a script name"]').setValue("greeting");
    await form.trigger("submit");
    await flushPromises();
    await flush();
    expect(fake.named("UpdateAgentSettings").map((o) => o.variables)).toEqual([{ chatId: CHAT, input: { model: "greeting" } }]);
    expect(agent.settings.value?.model).toBe("greeting");
    expect(w.find("form").exists()).toBe(false);
    expect(w.get('[data-testid="agent-settings"]').text()).not.toContain("defaults");

    // A refused workspace: the form stays open with the reason.
    await w
      .findAll("button")
      .find((b) => b.text() === "Change…")!
      .trigger("click");
    const inputs = w.findAll('form input[type="text"]');
    await inputs[1]!.setValue("../outside");
    await w.get("form").trigger("submit");
    await flushPromises();
    await flush();
    expect(fake.named("UpdateAgentSettings")[1]!.variables).toEqual({ chatId: CHAT, input: { workspace: "../outside" } });
    const alert = w.get('form [role="alert"]');
    expect(alert.text()).toContain("Not saved: Not accepted");
    expect(alert.text()).toContain("workspace: must be a folder inside AGENT_WORKSPACES_ROOT");
    expect(alert.text().split("must be a folder")).toHaveLength(2); // said once
  });
});
