import { describe, expect, it } from "vitest";
import { firstLine, formatBytes, formatDuration, formatIdle, formatTokens, statusInfo } from "../../web/src/lib/format";
import { EMPTY_FILTER, filterFromQuery, filterToQuery, matchesFilter, toTraceFilter } from "../../web/src/lib/trace-filter";

describe("filters in the URL and for the API", () => {
  it("reads the query, ignoring junk", () => {
    expect(filterFromQuery({ tool: ["run_command", "read_file", "read_file"], status: ["ok", "bogus"], errors: "1", minLatency: "500" })).toEqual({
      tools: ["read_file", "run_command"],
      statuses: ["ok"],
      errorsOnly: true,
      minLatencyMs: 500,
    });
    expect(filterFromQuery({ minLatency: "-3", errors: "0" })).toEqual(EMPTY_FILTER);
  });

  it("round-trips through the query", () => {
    const f = { tools: ["a"], statuses: ["error" as const, "ok" as const], errorsOnly: false, minLatencyMs: 20 };
    const q = filterToQuery(f);
    expect(q).toEqual({ tool: ["a"], status: ["error", "ok"], errors: undefined, minLatency: "20" });
    expect(filterFromQuery(q as Record<string, string | string[]>)).toEqual(f);
  });

  it("maps to TraceFilter: errors only is statuses error + timeout", () => {
    expect(toTraceFilter(EMPTY_FILTER)).toBeNull();
    expect(toTraceFilter({ ...EMPTY_FILTER, errorsOnly: true, tools: ["x"] })).toEqual({ toolNames: ["x"], statuses: ["error", "timeout"] });
    expect(toTraceFilter({ ...EMPTY_FILTER, statuses: ["running"], minLatencyMs: 100 })).toEqual({ statuses: ["running"], minLatencyMs: 100 });
  });

  it("matches a trace as the server would", () => {
    const running = { toolName: "x", status: "running", latencyMs: null };
    expect(matchesFilter(running, EMPTY_FILTER)).toBe(true);
    expect(matchesFilter(running, { ...EMPTY_FILTER, minLatencyMs: 1 })).toBe(false);
    expect(matchesFilter({ toolName: "x", status: "timeout", latencyMs: 9 }, { ...EMPTY_FILTER, errorsOnly: true })).toBe(true);
    expect(matchesFilter({ toolName: "y", status: "error" }, { ...EMPTY_FILTER, tools: ["x"] })).toBe(false);
  });
});

describe("formatting", () => {
  it("formats durations, idle times, tokens, bytes and error lines", () => {
    expect(formatDuration(0)).toBe("0 ms");
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(2_150)).toBe("2.1 s");
    expect(formatDuration(42_000)).toBe("42 s");
    expect(formatDuration(192_000)).toBe("3 m 12 s");
    expect(formatDuration(2 * 3_600_000 + 5 * 60_000)).toBe("2 h 05 m");
    expect(formatDuration(null)).toBe("–");
    expect(formatIdle(3 * 3_600_000 + 12 * 60_000)).toBe("3 h 12 m");
    expect(formatIdle(50 * 3_600_000)).toBe("2 d 2 h");
    expect(formatTokens(950)).toBe("950");
    expect(formatTokens("12345")).toBe("12.3k");
    expect(formatTokens(4_200_000)).toBe("4.2M");
    expect(formatBytes(40_000)).toBe("39.1 KiB");
    expect(firstLine("a\nb")).toBe("a");
  });

  it("gives every status an icon and a word", () => {
    for (const s of ["running", "ok", "error", "timeout", "cancelled", "abandoned"]) {
      const info = statusInfo(s);
      expect(info.label).toBe(s);
      expect(info.icon.length).toBeGreaterThan(0);
    }
    expect(statusInfo("timeout").isError).toBe(true);
    expect(statusInfo("cancelled").isError).toBe(false);
  });
});
