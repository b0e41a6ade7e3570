// Defect 1 (DNS rebinding): which Host and Origin headers the server answers, under each configuration.
import { describe, expect, test } from "vitest";
import { loadConfig } from "../../server/config.js";
import { createRequestPolicy, hostNameOf } from "../../server/http/request-policy.js";

const policyFor = (env: Record<string, string> = {}) => createRequestPolicy(loadConfig(env));

describe("Host", () => {
  const loopback = policyFor();
  test.each(["127.0.0.1:4000", "localhost:4000", "[::1]:4000", "127.0.0.1", "localhost", "LOCALHOST:4000", "127.1.2.3:9", "localhost.:4000"])(
    "loopback server accepts %s",
    (host) => expect(loopback.hostAllowed(host)).toBe(true),
  );
  test.each([
    "rebind.example:4000",
    "evil.com",
    "127.0.0.1.evil.com",
    "localhost.evil.com",
    "evil-localhost",
    "10.0.0.1",
    "0.0.0.0:4000",
    "",
    "user@localhost:4000",
    "localhost/graphql",
    "localhost:4000:80",
    "[::2]:4000",
    "localhost:999999",
    " ",
  ])("loopback server refuses %j", (host) => expect(loopback.hostAllowed(host)).toBe(false));
  test("a missing Host is refused", () => expect(loopback.hostAllowed(undefined)).toBe(false));

  test("PUBLIC_URL's host and ALLOWED_HOSTS are accepted, with subdomains for a leading dot", () => {
    const policy = policyFor({ HOST: "0.0.0.0", PUBLIC_URL: "https://tracedeck.example.com", ALLOWED_HOSTS: "ci.internal,.team.example" });
    for (const host of ["tracedeck.example.com", "tracedeck.example.com:443", "ci.internal:4000", "a.team.example", "team.example", "localhost:4000"]) {
      expect(policy.hostAllowed(host), host).toBe(true);
    }
    for (const host of ["example.com", "evil.tracedeck.example.com", "ci.internal.evil", "xteam.example", "rebind.example"]) {
      expect(policy.hostAllowed(host), host).toBe(false);
    }
  });

  test("host names are parsed strictly", () => {
    expect(hostNameOf("LocalHost:80")).toBe("localhost");
    expect(hostNameOf("[::1]:4000")).toBe("[::1]");
    expect(hostNameOf("a b")).toBeUndefined();
    expect(hostNameOf("a,b")).toBeUndefined();
  });
});

describe("Origin", () => {
  const policy = policyFor({ CORS_ORIGINS: "http://localhost:5173", PUBLIC_URL: "https://td.example.com" });
  test("no Origin (not a browser), the server's own origin, PUBLIC_URL's and CORS_ORIGINS pass", () => {
    expect(policy.originAllowed(undefined, "127.0.0.1:4000")).toBe(true);
    expect(policy.originAllowed("http://127.0.0.1:4000", "127.0.0.1:4000")).toBe(true);
    expect(policy.originAllowed("http://localhost:5173", "127.0.0.1:4000")).toBe(true);
    expect(policy.originAllowed("https://td.example.com", "td.example.com")).toBe(true);
  });
  test.each([
    ["http://rebind.example:4000", "rebind.example:4000"], // same as Host, but Host is not ours
    ["https://evil.example", "127.0.0.1:4000"],
    ["null", "127.0.0.1:4000"],
    ["http://127.0.0.1:4001", "127.0.0.1:4000"],
    ["file://", "127.0.0.1:4000"],
    ["invalid", "127.0.0.1:4000"],
  ])("refuses Origin %s with Host %s", (origin, host) => expect(policy.originAllowed(origin, host)).toBe(false));
});

describe("listening beyond loopback", () => {
  test("refuses to start without PUBLIC_URL or ALLOWED_HOSTS, naming both", () => {
    expect(() => loadConfig({ HOST: "0.0.0.0" })).toThrow(/HOST="0\.0\.0\.0".*PUBLIC_URL or ALLOWED_HOSTS/s);
    expect(() => loadConfig({ HOST: "192.168.1.5" })).toThrow(/PUBLIC_URL or ALLOWED_HOSTS/);
  });
  test("starts with either", () => {
    expect(loadConfig({ HOST: "0.0.0.0", PUBLIC_URL: "https://td.example.com" }).HOST).toBe("0.0.0.0");
    expect(loadConfig({ HOST: "::", ALLOWED_HOSTS: "td.internal" }).ALLOWED_HOSTS).toEqual(["td.internal"]);
    expect(loadConfig({ HOST: "localhost" }).HOST).toBe("localhost");
  });
  test("bad values are named", () => {
    expect(() => loadConfig({ ALLOWED_HOSTS: "https://x.example" })).toThrow(/ALLOWED_HOSTS/);
    expect(() => loadConfig({ PUBLIC_URL: "td.example.com" })).toThrow(/PUBLIC_URL/);
  });
});
