// A finish naming its trace by traceId may also give chatId and toolCallId; when they contradict
// the trace it is a ValidationError on the contradicting field, and nothing is written.
import { describe, expect, test } from "vitest";
import { NotFoundError, ValidationError } from "../../server/errors.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";

const { db, h } = useServiceDatabase();
const { failsCleanly, eventLog, storedTrace } = serviceAssertions(() => db, () => h);

async function twoChats() {
  const chat = await h.services.chats.create({ title: "owner" });
  const other = await h.services.chats.create({ title: "other" });
  const trace = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolCallId: "call_a" });
  // The other chat has a running trace with the same call id: the contradiction must not finish it.
  const otherTrace = await h.services.traces.start({ chatId: other.id, toolName: "bash", toolCallId: "call_a" });
  return { chat, other, trace, otherTrace };
}

describe("contradicting a traceId", () => {
  test("another chat's id is a ValidationError on chatId; neither trace is finished", async () => {
    const { chat, other, trace, otherTrace } = await twoChats();
    const error = await failsCleanly(ValidationError, () => h.services.traces.finish({ traceId: trace.id, chatId: other.id, output: "x" }));
    expect(error.issues).toEqual([{ path: ["chatId"], message: `does not match traceId: trace ${trace.id} belongs to chat ${chat.id}` }]);
    expect((await storedTrace(trace.id)).status).toBe("running");
    expect((await storedTrace(otherTrace.id)).status).toBe("running");
  });

  test("another tool call id is a ValidationError on toolCallId", async () => {
    const { trace } = await twoChats();
    const error = await failsCleanly(ValidationError, () => h.services.traces.finish({ traceId: trace.id, toolCallId: "call_b" }));
    expect(error.issues).toEqual([{ path: ["toolCallId"], message: `does not match traceId: trace ${trace.id} has another tool call id` }]);
  });

  test("both wrong: both named", async () => {
    const { other, trace } = await twoChats();
    const error = await failsCleanly(ValidationError, () => h.services.traces.finish({ traceId: trace.id, chatId: other.id, toolCallId: "call_b" }));
    expect(error.issues.map((i) => i.path)).toEqual([["chatId"], ["toolCallId"]]);
  });

  test("a tool call id for a trace that has none", async () => {
    const chat = await h.services.chats.create();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "t" });
    const error = await failsCleanly(ValidationError, () => h.services.traces.finish({ traceId: trace.id, toolCallId: "call_x" }));
    expect(error.issues).toEqual([{ path: ["toolCallId"], message: `does not match traceId: trace ${trace.id} has no tool call id` }]);
  });

  test("an unknown traceId is still a NotFoundError, whatever else is given", async () => {
    const { chat } = await twoChats();
    await failsCleanly(NotFoundError, () => h.services.traces.finish({ traceId: "00000000-0000-4000-8000-000000000000", chatId: chat.id, toolCallId: "call_a" }));
  });
});

describe("agreeing with a traceId", () => {
  test("the trace's own chat and call id (in any case) finish it", async () => {
    const { chat, trace, otherTrace } = await twoChats();
    const finished = await h.services.traces.finish({ traceId: trace.id, chatId: chat.id.toUpperCase(), toolCallId: "call_a", output: "ok" });
    expect(finished).toMatchObject({ id: trace.id, status: "ok", toolOutput: "ok" });
    expect((await storedTrace(otherTrace.id)).status).toBe("running");
    expect((await eventLog(chat.id)).map(([kind]) => kind)).toEqual(["chat_created", "trace_started", "trace_finished"]);
  });
});
