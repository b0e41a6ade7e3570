import { describe, expect, test } from "vitest";
import { REDACTED, scrubJsonStrings, scrubSecrets, scrubText } from "../../server/services/scrub.js";
import { findSecrets, VALUE_RULES } from "../../server/services/scrub-values.js";
import { presetRuleIds, RULE_ANCHORS } from "../../server/services/secret-rules.js";
import { MAX_JSON_DEPTH } from "../../server/services/validation.js";
import { base62, LOOK_ALIKES, secretCorpus } from "../fixtures/secrets/make.js";

const fill = (around: string, value: string) => around.replace("{}", () => value);

describe("credential-shaped values", () => {
  // Fresh values each run: a rule that only knew one fixed value would fail here.
  test.each(secretCorpus().map((c) => [c.name, c] as const))("%s is replaced, the text around it kept", (_name, c) => {
    const given = fill(c.around, c.secret);
    const scrubbed = scrubText(given);
    expect(scrubbed.value).toBe(fill(c.around, REDACTED));
    expect(scrubbed.count).toBe(1);
    expect(scrubbed.value).not.toContain(c.secret);
  });

  test.each(LOOK_ALIKES.map((text) => [text]))("a look-alike stays: %s", (text) => {
    expect(scrubText(text)).toEqual({ value: text, count: 0 });
  });

  test("the corpus covers what the issue names, and the look-alikes what it lists", () => {
    expect(secretCorpus().length).toBeGreaterThanOrEqual(35);
    expect(LOOK_ALIKES.length).toBeGreaterThanOrEqual(15);
  });

  test("several secrets in one text are counted one by one, in place", () => {
    const github = `ghp_${base62(36)}`;
    const npm = `npm_${base62(36)}`;
    const text = `step 1: GH_TOKEN=${github}\nstep 2: echo ok\nstep 3: NPM_TOKEN=${npm} npm publish\n`;
    expect(scrubText(text)).toEqual({ value: `step 1: GH_TOKEN=${REDACTED}\nstep 2: echo ok\nstep 3: NPM_TOKEN=${REDACTED} npm publish\n`, count: 2 });
  });

  test("a secret found by two rules is replaced once", () => {
    // The rule set's PostgreSQL rule and the hand-made URL-password rule both find this password.
    const text = `postgres://app:Zq8${base62(12)}@db/app`;
    expect(findSecrets(text)).toHaveLength(1);
    expect(scrubText(text)).toEqual({ value: `postgres://app:${REDACTED}@db/app`, count: 1 });
  });

  test("scrubbing is idempotent", () => {
    for (const c of secretCorpus()) {
      const once = scrubText(fill(c.around, c.secret)).value;
      expect(scrubText(once)).toEqual({ value: once, count: 0 });
    }
  });

  test("a secret deep in a large output is found", () => {
    const key = `sk-ant-api03-${base62(93)}AA`;
    const filler = "src/index.ts:1:1 - warning: line too long (max-len)\n".repeat(2000);
    const scrubbed = scrubText(`${filler}ANTHROPIC_API_KEY=${key}\n${filler}`);
    expect(scrubbed.count).toBe(1);
    expect(scrubbed.value).toBe(`${filler}ANTHROPIC_API_KEY=${REDACTED}\n${filler}`);
  });
});

describe("adversarial values", () => {
  // Anchors repeated, runs without their end: a backtracking pattern would take minutes on these.
  const N = 100_000;
  const cases: [string, string][] = [
    ["colons after a scheme", `://${":".repeat(N)}`],
    ["user:password without @", `https://${"a".repeat(N / 2)}:${"b".repeat(N / 2)}`],
    ["schemes repeated", "://a:b".repeat(N / 6)],
    ["BEGIN without END", `-----BEGIN PRIVATE KEY-----\n${"A".repeat(N)}`],
    ["BEGIN repeated", "-----BEGIN RSA PRIVATE KEY-----\nMII".repeat(N / 36)],
    ["eyJ repeated", "eyJ".repeat(N / 3)],
    ["JWT heads without a signature", "eyJabcdef.eyJabcdef.".repeat(N / 20)],
    ["Bearer repeated", "Bearer ".repeat(N / 7)],
    ["a bearer token that never ends", `Bearer a1${"b".repeat(N)}`],
    ["sk-ant- repeated", "sk-ant-".repeat(N / 7)],
    ["a Slack token of dashes", `xoxb-${"a-".repeat(N / 2)}`],
    ["a secret's name, then spaces", `aws_session_token${" ".repeat(N)}`],
    ["SG. then a run", `SG.${"a".repeat(N)}`],
    ["AKIA repeated", "AKIA".repeat(N / 4)],
    ["a connection string that never ends", `postgres://${"u".repeat(N / 2)}:${"p".repeat(N / 2)}`],
  ];
  test.each(cases)("%s: scanned in linear time", (_name, text) => {
    const started = performance.now();
    scrubText(text);
    // A linear scan of 100 KB takes milliseconds; the limit is for a loaded machine.
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("the rule set", () => {
  test("every rule of the pinned preset that runs has an anchor, and every anchor compiles", () => {
    const ids = presetRuleIds();
    expect(ids.length).toBeGreaterThanOrEqual(20);
    expect(ids.filter((id) => !(id in RULE_ANCHORS))).toEqual([]);
    for (const rule of VALUE_RULES) {
      expect(rule.anchor, rule.id).not.toBeNull();
      expect(() => new RegExp(rule.anchor!), rule.id).not.toThrow();
    }
  });

  test("no rule is skipped by the prefilter: each secret is found by its rules alone as by all of them", () => {
    // Whatever the prefilter lets through must be what running every rule finds.
    for (const c of secretCorpus()) {
      const text = fill(c.around, c.secret);
      const everyRule = VALUE_RULES.flatMap((rule) => rule.find(text));
      expect(everyRule.length, c.name).toBeGreaterThan(0);
      expect(findSecrets(text).length, c.name).toBe(1);
    }
  });

  test("a comment in the text cannot switch a rule off", () => {
    const key = `ghp_${base62(36)}`;
    expect(scrubText(`// secretlint-disable\n${key}\n// secretlint-enable`).count).toBe(1);
    expect(scrubText(`${key} // secretlint-disable-line`).count).toBe(1);
  });
});

describe("scrubJsonStrings", () => {
  test("every string inside a JSON value, at any depth; keys, numbers and booleans kept", () => {
    const github = `ghp_${base62(36)}`;
    const openai = `sk-proj-${base62(100)}`;
    const input = {
      command: `curl -H "Authorization: Bearer ${openai}" https://api.openai.com/v1/models`,
      env: [{ name: "GH_TOKEN", value: github }, { name: "PORT", value: 8080 }],
      [`ghp_${"x".repeat(36)}`]: true,
      nested: { deeper: { list: ["plain", `postgres://u:p4ssw0rd99@h/db`] } },
    };
    const { value, count } = scrubJsonStrings(input);
    expect(count).toBe(3);
    expect(value).toEqual({
      command: `curl -H "Authorization: Bearer ${REDACTED}" https://api.openai.com/v1/models`,
      env: [{ name: "GH_TOKEN", value: REDACTED }, { name: "PORT", value: 8080 }],
      [`ghp_${"x".repeat(36)}`]: true,
      nested: { deeper: { list: ["plain", `postgres://u:${REDACTED}@h/db`] } },
    });
    expect(input.env[0]!.value).toBe(github);
  });

  test("a value without a secret is returned as it is, not copied", () => {
    const input = { command: "ls -la", args: ["-R", { depth: 2 }], note: "no key here" };
    const { value, count } = scrubJsonStrings(input);
    expect(count).toBe(0);
    expect(value).toBe(input);
  });

  test("a bare string is scrubbed too", () => {
    expect(scrubJsonStrings(`token xoxb-123456789012-${base62(24)}`)).toEqual({ value: `token ${REDACTED}`, count: 1 });
  });

  test("a value deeper than the JSON limit (never accepted as input) is refused, not a stack overflow", () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < MAX_JSON_DEPTH + 5; i++) deep = { a: deep };
    expect(() => scrubJsonStrings(deep as never)).toThrow(/nested over/);
  });
});

describe("scrubSecrets (snapshot state)", () => {
  test("replaces secret-shaped values as well as what is under secret keys", () => {
    const key = `sk-ant-api03-${base62(93)}AA`;
    const state = { messages: [{ role: "tool", content: `ANTHROPIC_API_KEY=${key}` }], env: { API_KEY: "short" } };
    expect(scrubSecrets(state)).toEqual({ messages: [{ role: "tool", content: `ANTHROPIC_API_KEY=${REDACTED}` }], env: { API_KEY: REDACTED } });
  });

  test("values: false keeps the shapes and still redacts by key", () => {
    const key = `sk-ant-api03-${base62(93)}AA`;
    const state = { messages: [{ role: "tool", content: `ANTHROPIC_API_KEY=${key}` }], env: { API_KEY: "short" } };
    expect(scrubSecrets(state, { values: false })).toEqual({ messages: [{ role: "tool", content: `ANTHROPIC_API_KEY=${key}` }], env: { API_KEY: REDACTED } });
  });
});
