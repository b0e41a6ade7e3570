// The scope of an operation is the scopes of every root field it would run: aliases, fragments,
// inline fragments and @skip do not hide one; a mutation nobody mapped needs admin.
import { parse } from "graphql";
import { describe, expect, test } from "vitest";
import { MUTATION_SCOPES, rootFieldScopes, scopeOfRootField } from "../../server/auth/operation-scopes.js";
import { grants, missingScopes } from "../../server/auth/scopes.js";
import { schema } from "../../server/schema/index.js";

const scopes = (text: string, operationName?: string) => rootFieldScopes(parse(text), operationName).map((f) => `${f.field}:${f.scope}`).sort();

describe("root fields of an operation", () => {
  test("plain fields, aliases and introspection", () => {
    expect(scopes(`{ chats { edges { cursor } } keys: apiKeys { id } __schema { types { name } } }`)).toEqual(["__schema:read", "apiKeys:admin", "chats:read"]);
    expect(scopes(`mutation { harmless: deleteChat(id: "x") { __typename } }`)).toEqual(["deleteChat:admin"]);
  });

  test("named fragments (nested, and cyclic), inline fragments and @skip count", () => {
    const text = `mutation M { createChat(input: {}) { __typename } ...A ... on Mutation { revokeApiKey(id: "x") { __typename } } }
      fragment A on Mutation { ...B deleteSnapshot(revisionId: "r") @skip(if: true) { __typename } }
      fragment B on Mutation { ...A sendMessage(chatId: "c", text: "t") { __typename } }`;
    expect(scopes(text)).toEqual(["createChat:ingest", "deleteSnapshot:admin", "revokeApiKey:admin", "sendMessage:agent"]);
  });

  test("the named operation only; without a runnable one, every operation counts", () => {
    const text = `query Q { chats { edges { cursor } } } mutation M { deleteChat(id: "x") { __typename } }`;
    expect(scopes(text, "Q")).toEqual(["chats:read"]);
    expect(scopes(text, "M")).toEqual(["deleteChat:admin"]);
    expect(scopes(text)).toEqual(["chats:read", "deleteChat:admin"]);
    expect(scopes(text, "Nope")).toEqual(["chats:read", "deleteChat:admin"]);
  });

  test("a mutation missing from the map needs admin; queries and subscriptions read", () => {
    expect(scopeOfRootField("mutation", "someFutureMutation")).toBe("admin");
    expect(scopeOfRootField("query", "someFutureQuery")).toBe("read");
    expect(scopeOfRootField("subscription", "someFutureSubscription")).toBe("read");
  });

  test("the map names only real mutations; one it does not name needs admin", () => {
    const mutations = Object.keys(schema.getMutationType()!.getFields());
    const unmapped = mutations.filter((name) => !(name in MUTATION_SCOPES));
    // Mutations other work adds before their scope is decided fall back to admin, which is safe;
    // they are listed here so that the decision is not forgotten.
    for (const name of unmapped) expect(scopeOfRootField("mutation", name)).toBe("admin");
    expect(mutations).toEqual(expect.arrayContaining(Object.keys(MUTATION_SCOPES)));
  });
});

describe("scopes", () => {
  test("admin implies every scope; the others only themselves", () => {
    for (const needed of ["ingest", "read", "agent", "admin"] as const) expect(grants(["admin"], needed)).toBe(true);
    expect(grants(["read"], "ingest")).toBe(false);
    expect(grants(["read", "ingest"], "ingest")).toBe(true);
    expect(grants(["ingest", "read", "agent"], "admin")).toBe(false);
    expect(missingScopes(["read"], ["ingest", "read", "agent"])).toEqual(["ingest", "agent"]);
  });
});
