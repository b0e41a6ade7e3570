// The connection state machine behind the header's indicator and the streams' resubscribe, and
// the client's small helpers.
import { describe, expect, test } from "vitest";
import { createConnectionTracker } from "../../web/src/connection";
import { graphqlWsUrl, retryDelayMs } from "../../web/src/urql";

describe("createConnectionTracker", () => {
  test("connecting → connected → reconnecting → connected counts one reconnect and tells listeners", () => {
    const t = createConnectionTracker();
    const heard: number[] = [];
    t.info.onReconnect(() => heard.push(t.info.reconnects.value));
    expect(t.info.state.value).toBe("connecting");
    t.connecting();
    t.connected();
    expect(t.info.state.value).toBe("connected");
    expect(t.info.reconnects.value).toBe(0); // the first connection is not a reconnect
    t.closed({ code: 1006, reason: "" });
    expect(t.info.state.value).toBe("reconnecting");
    expect(t.info.lastClose.value).toEqual({ code: 1006, reason: "" });
    t.connecting();
    expect(t.info.state.value).toBe("reconnecting");
    t.connected();
    expect(t.info.state.value).toBe("connected");
    expect(t.info.reconnects.value).toBe(1);
    expect(heard).toEqual([1]);
  });

  test("never connected: closed is disconnected, the next attempt is connecting again", () => {
    const t = createConnectionTracker();
    t.connecting();
    t.closed({ code: 1006, reason: "" });
    expect(t.info.state.value).toBe("disconnected");
    t.connecting();
    expect(t.info.state.value).toBe("connecting");
  });

  test("a fatal close code or dispose is disconnected; listeners can unsubscribe", () => {
    const t = createConnectionTracker();
    let calls = 0;
    const off = t.info.onReconnect(() => calls++);
    t.connected();
    t.closed({ code: 4403, reason: "Forbidden" });
    expect(t.info.state.value).toBe("reconnecting"); // 4403 is not one of graphql-ws's fatal codes
    t.closed({ code: 4400, reason: "Bad request" });
    expect(t.info.state.value).toBe("disconnected");
    off();
    t.connected();
    expect(calls).toBe(0);
    t.dispose();
    expect(t.info.state.value).toBe("disconnected");
    t.connected();
    expect(t.info.state.value).toBe("disconnected");
  });
});

test("graphqlWsUrl follows the page's scheme and host", () => {
  expect(graphqlWsUrl({ protocol: "http:", host: "127.0.0.1:4000" })).toBe("ws://127.0.0.1:4000/graphql");
  expect(graphqlWsUrl({ protocol: "https:", host: "tracedeck.example.com" })).toBe("wss://tracedeck.example.com/graphql");
});

test("retryDelayMs backs off exponentially with jitter, capped", () => {
  expect(retryDelayMs(0, () => 0)).toBe(500);
  expect(retryDelayMs(1, () => 0)).toBe(1000);
  expect(retryDelayMs(3, () => 0)).toBe(4000);
  expect(retryDelayMs(20, () => 0)).toBe(15_000);
  expect(retryDelayMs(0, () => 0.999)).toBeLessThan(1000);
});
