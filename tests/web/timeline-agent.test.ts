// The session timeline with Tracedeck's agent: the auto-fix loop's marks on its turns ("auto-fix 1/3",
// "build failed", "build passed after 1 attempt"), a running agent turn listed before it has traces,
// and the restore dialog's "Also rewind files" (off by default, explained) with what it did.
import { mount } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import SessionTimeline from "../../web/src/components/timeline/SessionTimeline.vue";
import type { AgentTurnInfo } from "../../web/src/lib/agent-turns";
import { buildMark, fixLabel, turnMarks } from "../../web/src/lib/agent-turns";
import { agentTurn } from "./agent-helpers";
import { fakeUrql, flush } from "./waterfall-helpers";

afterEach(() => {
  document.body.innerHTML = "";
});

const tokens = { input: 10, output: 5, cacheRead: 0, cacheWrite: 0, reasoning: 0, tokensUsed: 15 };
function turn(n: number, isCurrent = false) {
  return {
    turn: n,
    traceCount: 3,
    errorCount: 0,
    runningCount: 0,
    startedAt: new Date(Date.UTC(2026, 0, 1, n)).toISOString(),
    endedAt: new Date(Date.UTC(2026, 0, 1, n, 5)).toISOString(),
    firstIndex: 0,
    tokens,
    revision: {
      id: `rev${n}`,
      uuid: `uuid-${n}`,
      turn: n,
      createdAt: new Date(Date.UTC(2026, 0, 1, n, 6)).toISOString(),
      isCurrent,
      restoredFrom: null,
      supersededAt: null,
      sessionId: "s1",
      stateBytes: 2048,
    },
  };
}
const fixPrompt = (attempt: number, of = 3) =>
  `The build failed (npm run build, exit code 1) — auto-fix attempt ${attempt} of ${of}. Fix these errors:\n\n\`\`\`\nboom\n\`\`\``;
const t = (n: number, over: Record<string, unknown>) => agentTurn(n, over) as unknown as AgentTurnInfo;

// Turn 1: the user's, its build failed; turn 2: fix 1, failed again; turn 3: fix 2, passed;
// turn 4: the user's again, running (no traces yet).
const agentTurns = [
  t(1, {
    prompt: "Add stats.mjs with mean and median",
    fixFollows: true,
    outcome: "answered after 3 steps; build failed with exit code 1; auto-fix attempt 1 of 3 follows",
  }),
  t(2, {
    trigger: "autofix",
    fixAttempt: 1,
    prompt: fixPrompt(1),
    fixFollows: true,
    outcome: "answered; build failed with exit code 1; auto-fix attempt 2 of 3 follows",
  }),
  t(3, { trigger: "autofix", fixAttempt: 2, prompt: fixPrompt(2), outcome: "answered after 2 steps; build passed after 2 attempts" }),
  t(4, { prompt: "Now add a mode function", status: "running", outcome: null, finishedAt: null }),
];

function mountTimeline(handler: Parameters<typeof fakeUrql>[0] = () => ({ data: null }), props: Record<string, unknown> = {}) {
  const fake = fakeUrql(handler);
  const w = mount(SessionTimeline, {
    props: {
      chatId: "chat-1",
      turns: [turn(1), turn(2), turn(3, true)],
      chat: { nextTurn: 4, continuedFromTurn: null },
      client: fake.client,
      agentTurns,
      maxAttempts: 3,
      ...props,
    },
    attachTo: document.body,
  });
  return { w, fake };
}

const item = (w: ReturnType<typeof mountTimeline>["w"], n: number) => w.get(`li.turn[data-turn="${n}"]`);
const marks = (w: ReturnType<typeof mountTimeline>["w"], n: number) =>
  item(w, n)
    .findAll("[data-mark]")
    .map((m) => `${m.attributes("data-mark")}: ${m.text()}`);

describe("SessionTimeline: the agent's auto-fix marks", () => {
  it("marks the failed builds, each fix attempt and the loop's outcome", () => {
    const { w } = mountTimeline();
    expect(marks(w, 1)).toEqual(["build: ✕build failed"]);
    expect(marks(w, 2)).toEqual(["fix: ↻auto-fix 1/3", "build: ✕build failed"]);
    expect(marks(w, 3)).toEqual(["fix: ↻auto-fix 2/3", "build: ✓build passed after 2 attempts"]);
    // Tones are words and glyphs first; the colour only repeats them.
    expect(item(w, 1).get('[data-mark="build"]').classes()).toContain("error");
    expect(item(w, 3).get('[data-mark="build"]').classes()).toContain("ok");
    // A user's turn says what was asked; a fix turn does not repeat the build output.
    expect(item(w, 1).get(".ask").text()).toBe("“Add stats.mjs with mean and median”");
    expect(item(w, 2).find(".ask").exists()).toBe(false);
  });

  it("lists a running agent turn that has no traces or snapshot yet", () => {
    const { w } = mountTimeline();
    expect(w.findAll("li.turn[data-turn]").map((i) => i.attributes("data-turn"))).toEqual(["1", "2", "3", "4"]);
    expect(marks(w, 4)).toEqual(["status: ◔agent running"]);
    expect(item(w, 4).classes()).toContain("agent-running");
    expect(item(w, 4).get("button.turn-button").attributes("aria-label")).toBe("Turn 4: 0 traces, 0 errors. Show in the waterfall");
    expect(item(w, 4).text()).toContain("No snapshot saved yet (turn in progress)");
  });

  it("says when the loop gave up, and shows nothing extra without agent turns", () => {
    const { w } = mountTimeline(undefined, {
      agentTurns: [
        t(3, { trigger: "autofix", fixAttempt: 3, prompt: fixPrompt(3), outcome: "answered; build still failing after 3 attempts; auto-fix stopped" }),
      ],
    });
    expect(marks(w, 3)).toEqual(["fix: ↻auto-fix 3/3", "build: ✕build still failing after 3 attempts"]);
    expect(item(w, 1).find('[data-testid="agent-marks"]').exists()).toBe(false);
    const plain = mountTimeline(undefined, { agentTurns: undefined }).w;
    expect(plain.findAll("[data-mark]")).toHaveLength(0);
  });
});

describe("the marks' words", () => {
  it("reads the attempt and the limit from the fix message, else from the settings", () => {
    expect(fixLabel({ trigger: "autofix", fixAttempt: 2, prompt: fixPrompt(2, 5) }, 3)).toBe("auto-fix 2/5");
    expect(fixLabel({ trigger: "autofix", fixAttempt: 2, prompt: "fix it" }, 3)).toBe("auto-fix 2/3");
    expect(fixLabel({ trigger: "autofix", fixAttempt: 2, prompt: "fix it" })).toBe("auto-fix 2");
    expect(fixLabel({ trigger: "user", fixAttempt: null, prompt: fixPrompt(1) }, 3)).toBeNull();
  });

  it("names the build's result from the outcome the runner wrote", () => {
    expect(buildMark({ fixFollows: false, outcome: "answered; build passed" })).toMatchObject({ label: "build passed", tone: "ok" });
    expect(buildMark({ fixFollows: false, outcome: "answered; build passed after 1 attempt" })).toMatchObject({ label: "build passed after 1 attempt" });
    expect(buildMark({ fixFollows: false, outcome: "answered; build failed; auto-fix is off" })).toMatchObject({ label: "build failed", tone: "error" });
    expect(buildMark({ fixFollows: false, outcome: "answered; the build (npm run build) could not run: no sandbox" })).toMatchObject({
      label: "build could not run",
    });
    expect(buildMark({ fixFollows: false, outcome: "answered; auto-fix stopped: the fix turn changed no files" })).toMatchObject({
      label: "auto-fix stopped",
      tone: "warn",
    });
    expect(buildMark({ fixFollows: false, outcome: "answered" })).toBeNull();
    expect(turnMarks(t(1, { status: "cancelled", outcome: "cancelled: cancelled by the user" })).map((m) => m.label)).toEqual(["agent cancelled"]);
  });
});

describe("the restore dialog: Also rewind files", () => {
  const payload = (files: unknown) => ({
    data: {
      restoreSnapshot: {
        __typename: "RestoreSnapshotPayload",
        nextTurn: 4,
        sessionId: "0f1e2d3c-new",
        revision: { __typename: "SnapshotRevision", id: "rev1", turn: 1 },
        files,
      },
    },
  });
  const openRestore = async (w: ReturnType<typeof mountTimeline>["w"], n: number) => {
    await item(w, n)
      .findAll(".rev-actions button")
      .find((b) => b.text().startsWith("Restore"))!
      .trigger("click");
    return w.get('[role="alertdialog"]');
  };

  it("is off by default, explains what is tracked, and shows what the rewind did", async () => {
    const { w, fake } = mountTimeline(() =>
      payload({
        __typename: "FileRewind",
        rewritten: ["src/stats.mjs"],
        deleted: ["src/mode.mjs"],
        skipped: [
          { __typename: "SkippedFile", path: "data/big.bin", reason: "its earlier content was larger than the journal keeps (AGENT_JOURNAL_MAX_FILE_BYTES)" },
        ],
        note: "Only write_file and edit_file changes are tracked; run_command's changes were left alone.",
      }),
    );
    let dialog = await openRestore(w, 1);
    const box = dialog.get<HTMLInputElement>('input[type="checkbox"][data-testid="rewind-files"]');
    expect(box.element.checked).toBe(false);
    const label = box.element.closest("label")!;
    expect(label.textContent).toContain("Also rewind files");
    const help = dialog.get(`#${CSS.escape(box.attributes("aria-describedby")!)}`);
    expect(help.text()).toContain("write_file");
    expect(help.text()).toContain("edit_file");
    expect(help.text()).toContain("are tracked");

    await box.setValue(true);
    await w.get('[data-testid="confirm-restore"]').trigger("click");
    await flush();
    expect(fake.named("RestoreSnapshot").map((o) => o.variables)).toEqual([{ chatId: "chat-1", turn: 1, rewindFiles: true }]);
    const result = w.get('[data-testid="rewind-result"]');
    expect(result.text()).toContain("1 rewritten, 1 deleted, 1 skipped");
    const files = result.findAll("li[data-file]").map((li) => `${li.attributes("data-file")}: ${li.find("code").text()}`);
    expect(files).toEqual(["rewritten: src/stats.mjs", "deleted: src/mode.mjs", "skipped: data/big.bin"]);
    expect(result.get('li[data-file="skipped"]').text()).toContain("larger than the journal keeps");
    expect(result.get('[data-testid="rewind-note"]').text()).toContain("run_command's changes were left alone");

    // Opened again: off again.
    dialog = await openRestore(w, 2);
    expect(dialog.get<HTMLInputElement>('[data-testid="rewind-files"]').element.checked).toBe(false);
  });

  it("without the box ticked, the restore leaves files alone and shows no file result", async () => {
    const { w, fake } = mountTimeline(() => payload(null));
    await openRestore(w, 1);
    await w.get('[data-testid="confirm-restore"]').trigger("click");
    await flush();
    expect(fake.named("RestoreSnapshot")[0]!.variables).toMatchObject({ rewindFiles: false });
    expect(w.get('[data-testid="restore-result"]').text()).toContain("Restored turn 1");
    expect(w.find('[data-testid="rewind-result"]').exists()).toBe(false);
  });

  it("cannot be ticked when the server runs no agent", async () => {
    const { w } = mountTimeline(undefined, { agentEnabled: false });
    const dialog = await openRestore(w, 1);
    expect(dialog.get('[data-testid="rewind-files"]').attributes("disabled")).toBeDefined();
    expect(dialog.text()).toContain("this server runs no agent");
  });
});
