// A toolInput that is a bare number goes through Prisma as a float with 16 significant digits:
// one with more is refused (it would be stored as another number, or as null near the largest
// double); nested in an object or a list, every double is stored exactly.
import { describe, expect, test } from "vitest";
import { ValidationError } from "../../server/errors.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";

const { db, h } = useServiceDatabase();
const { failsCleanly, storedTrace } = serviceAssertions(() => db, () => h);

describe("a bare number as toolInput", () => {
  test("with up to 16 significant digits it is stored exactly, as returned", async () => {
    const chat = await h.services.chats.create();
    for (const toolInput of [0.3, -1.007529683598839e-73, 1.797693134862315e308, 5e-324, 1125899906842624, 0]) {
      const trace = await h.services.traces.start({ chatId: chat.id, toolName: "t", toolInput });
      expect(trace.toolInput).toBe(toolInput);
      expect((await storedTrace(trace.id)).toolInput).toBe(toolInput);
      const recorded = await h.services.traces.record({ chatId: chat.id, toolName: "t", toolInput });
      expect((await storedTrace(recorded.id)).toolInput).toEqual(recorded.toolInput);
    }
  });

  test("with more it is a ValidationError on toolInput, and nothing is written", async () => {
    const chat = await h.services.chats.create();
    for (const toolInput of [0.30000000000000004, 1.7976931348623157e308, -1.0075296835988392e-73, 1125899906842624.5]) {
      const error = await failsCleanly(ValidationError, () => h.services.traces.start({ chatId: chat.id, toolName: "t", toolInput }));
      expect(error.issues).toEqual([{ path: ["toolInput"], message: expect.stringContaining("more than 16 significant digits") }]);
    }
  });

  test("nested, every double is stored exactly", async () => {
    const chat = await h.services.chats.create();
    const toolInput = [0.30000000000000004, 1.7976931348623157e308, -1.0075296835988392e-73, 1125899906842624.5];
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "t", toolInput });
    expect((await storedTrace(trace.id)).toolInput).toEqual(toolInput);
  });
});
