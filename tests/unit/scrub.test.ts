import { describe, expect, test } from "vitest";
import { MAX_JSON_DEPTH } from "../../server/services/validation.js";
import { isSecretKey, keyWords, REDACTED, scrubSecrets } from "../../server/services/scrub.js";

/** Names secrets go by in environments, headers, SDK options and config files. */
const SECRET_NAMES = [
  "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_API_KEY", "GOOGLE_API_KEY", "GITHUB_TOKEN", "GH_TOKEN", "NPM_TOKEN", "HF_TOKEN",
  "HUGGING_FACE_HUB_TOKEN", "SLACK_BOT_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "STRIPE_SECRET_KEY", "JWT_SECRET",
  "DB_PASSWORD", "DATABASE_PASSWORD", "PGPASSWORD", "MYSQL_PWD", "REDIS_PASSWORD", "APIKEY", "x-api-key", "X-Auth-Token",
  "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "apiKey", "api_key", "apiKEY", "XApiKey", "clientSecret",
  "client_secret", "privateKey", "private_key", "ssh_private_key", "refresh_token", "accessToken", "access_token", "id_token",
  "authToken", "sessionToken", "csrfToken", "password", "passwd", "passphrase", "userPwd", "secret", "token", "bearer", "auth",
  "basic.auth", "credentials", "credential", "webhook secret", "signingKey", "ENCRYPTION_KEY", "jwt", "OAuthToken", "oauth_token",
];

/** Names that look close but hold no secret: counts, limits, ids, key names, words that merely contain one. */
const CLEAR_NAMES = [
  "stepKey", "sortKey", "cacheKey", "primaryKey", "publicKey", "public_key", "foreignKey", "idempotencyKey", "keyId", "key",
  "keyboard", "keyword", "tokenizer", "tokensUsed", "tokenCount", "token_count", "maxTokens", "max_tokens", "inputTokens",
  "output_tokens", "token_type", "tokenType", "eos_token", "pad_token", "nextPageToken", "page_token", "author", "authorName",
  "authored", "oauthProvider", "OAuth", "useOAuth", "oauth", "passage", "secretary", "secretName", "passwordHint", "sessionId", "AWS_ACCESS_KEY_ID",
  "private_key_id", "apiKeyName", "PWD", "OLDPWD", "signature", "hash", "salt", "PATH", "HOME",
];

describe("secret key names", () => {
  test.each(SECRET_NAMES)("%s is a secret", (name) => {
    expect(isSecretKey(name)).toBe(true);
  });

  test.each(CLEAR_NAMES)("%s stays in clear", (name) => {
    expect(isSecretKey(name)).toBe(false);
  });

  test("a key is split at separators and case changes", () => {
    expect(keyWords("OPENAI_API_KEY")).toEqual(["openai", "api", "key"]);
    expect(keyWords("XAuthToken")).toEqual(["x", "auth", "token"]);
    expect(keyWords("apiKEY")).toEqual(["api", "key"]);
    expect(keyWords("s3.secretKey")).toEqual(["s3", "secret", "key"]);
    expect(keyWords("x-api-key")).toEqual(["x", "api", "key"]);
    expect(keyWords("my secret")).toEqual(["my", "secret"]);
    expect(keyWords("OAuthToken")).toEqual(["oauth", "token"]);
    expect(keyWords("__")).toEqual([]);
  });

  test("the tables are large enough to mean something", () => {
    expect(SECRET_NAMES.length).toBeGreaterThanOrEqual(30);
    expect(CLEAR_NAMES.length).toBeGreaterThanOrEqual(15);
  });
});

describe("scrubSecrets", () => {
  test("redacts what is under a secret key, anywhere, and nothing else", () => {
    const state = {
      env: { OPENAI_API_KEY: "sk-1", HOME: "/home/a" },
      list: [{ token: "t-1", tokens: 3 }, "token"],
      password: "",
      note: "my password is hunter2",
    };
    expect(scrubSecrets(state)).toEqual({
      env: { OPENAI_API_KEY: REDACTED, HOME: "/home/a" },
      list: [{ token: REDACTED, tokens: 3 }, "token"],
      password: "",
      note: "my password is hunter2",
    });
  });

  test("under a secret key, numbers and nested strings are redacted too; booleans, null and keys are kept", () => {
    expect(scrubSecrets({ credentials: { user: "bob", pin: 1234, mfa: true, backup: null, keys: ["a", ""] }, pin: { password: 99 } })).toEqual({
      credentials: { user: REDACTED, pin: REDACTED, mfa: true, backup: null, keys: [REDACTED, ""] },
      pin: { password: REDACTED },
    });
  });

  test("is idempotent, and leaves its input alone", () => {
    const state = { apiKey: "sk", nested: { Authorization: ["Bearer x"] } };
    const once = scrubSecrets(state);
    expect(scrubSecrets(once)).toEqual(once);
    expect(state).toEqual({ apiKey: "sk", nested: { Authorization: ["Bearer x"] } });
  });

  test("a value deeper than the JSON limit (never accepted as input) is refused, not a stack overflow", () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < MAX_JSON_DEPTH + 5; i++) deep = { a: deep };
    expect(() => scrubSecrets(deep as never)).toThrow(/nested over/);
  });
});
