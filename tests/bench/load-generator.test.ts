// Sanity of `npm run bench`'s own parts (the benchmark itself is not part of npm test): the naive
// baseline server answers the mutation shapes, and the load generator chains start → finish per
// connection, pins each connection's chat and counts traces without failures.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FINISH, gqlData, START } from "../../bench/gql.js";
import { startFinishLoad, summarize } from "../../bench/load.js";
import { type Child, freePort, spawnChild, waitHealthy } from "../../bench/proc.js";
import { percentile } from "../../bench/stats.js";

let naive: Child;
let url: string;

beforeAll(async () => {
  const port = await freePort();
  naive = spawnChild(["--import", "tsx", "bench/naive-server.ts"], { PORT: String(port), DATABASE_URL: "", NAIVE_DATA_DIR: "memory://" }, { label: "naive" });
  url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, naive, performance.now(), 60_000);
}, 90_000);

afterAll(async () => {
  await naive?.stop(5_000);
});

describe("bench parts", () => {
  it("the naive server answers start and finish with typed results", async () => {
    const started = await gqlData<{ startToolTrace: { __typename: string; id: string } }>(`${url}/graphql`, START, {
      input: { chatId: "chat-a", toolName: "read_file", toolInput: { path: "a" } },
    });
    expect(started.startToolTrace.__typename).toBe("ToolTrace");
    const finished = await gqlData<{ finishToolTrace: { __typename: string; id: string } }>(`${url}/graphql`, FINISH, {
      input: { traceId: started.startToolTrace.id, output: "ok" },
    });
    expect(finished.finishToolTrace).toEqual({ __typename: "ToolTrace", id: started.startToolTrace.id });
  });

  it("the load generator completes start+finish pairs on every connection", async () => {
    const samples = await startFinishLoad({ url: `${url}/graphql`, chatIds: ["chat-1", "chat-2"], connections: 2, seconds: 1 });
    const result = summarize(samples);
    expect(result.failures).toBe(0);
    expect(result.traces).toBeGreaterThan(5);
    // Two requests per trace, give or take the pairs cut by the end of the run.
    expect(samples.requestMs.length).toBeGreaterThanOrEqual(result.traces * 2);
    expect(samples.requestMs.length).toBeLessThanOrEqual(result.traces * 2 + 4);
  }, 30_000);

  it("percentile is the nearest rank", () => {
    const values = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(values, 0.5)).toBe(100);
    expect(percentile(values, 0.99)).toBe(198);
    expect(percentile([], 0.5)).toBeNaN();
  });
});
