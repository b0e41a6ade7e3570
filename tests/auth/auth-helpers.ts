// Shared by the auth tests: keys of each scope, graphql-ws clients that carry a key, and what a
// socket or an operation ended with.
import { randomUUID } from "node:crypto";
import {
  type GraphQLField,
  type GraphQLInputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isScalarType,
} from "graphql";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import type { Scope } from "../../server/auth/scopes.js";
import type { App } from "../../server/app.js";

/** One key per scope, plus one holding every scope but admin. */
export async function keysOf(app: App): Promise<Record<Scope | "allButAdmin", string>> {
  const make = async (name: string, scopes: Scope[]) => (await app.services.apiKeys.create({ name, scopes })).key;
  return {
    ingest: await make("ingest only", ["ingest"]),
    read: await make("read only", ["read"]),
    agent: await make("agent only", ["agent"]),
    admin: await make("admin", ["admin"]),
    allButAdmin: await make("all but admin", ["ingest", "read", "agent"]),
  };
}

/** A key that lacks `scope` (and is not admin, which would hold it). */
export const wrongKeyFor = (keys: Record<Scope | "allButAdmin", string>, scope: Scope): string =>
  scope === "admin" ? keys.allButAdmin : scope === "read" ? keys.ingest : keys.read;

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A graphql-ws client whose connection_init payload is `params` (undefined: none). */
export function keyedWsClient(wsUrl: string, params?: Record<string, unknown>): Client {
  return createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: params });
}

export type OperationOutcome =
  | { kind: "closed"; code: number; reason: string }
  | { kind: "errors"; errors: { message: string; extensions?: Record<string, unknown> }[] }
  | { kind: "data" }
  | { kind: "quiet" }
  | { kind: "complete" };

/**
 * What an operation on a socket came to first: the socket closed (with its code), errors, data,
 * completion, or nothing within `quietMs` (a live-only subscription waiting for events).
 */
export function firstOutcome(client: Client, query: string, quietMs = 1_500): Promise<OperationOutcome> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (outcome: OperationOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      dispose();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: "quiet" }), quietMs);
    const dispose = client.subscribe(
      { query },
      {
        next: (value) => finish(value.errors?.length ? { kind: "errors", errors: value.errors as never } : { kind: "data" }),
        error: (error) => {
          const event = error as { code?: number; reason?: string };
          if (typeof event?.code === "number") finish({ kind: "closed", code: event.code, reason: String(event.reason ?? "") });
          else finish({ kind: "errors", errors: (Array.isArray(error) ? error : [{ message: String((error as Error)?.message ?? error) }]) as never });
        },
        complete: () => finish({ kind: "complete" }),
      },
    );
  });
}

/** The errors an outcome carries (none unless it is "errors"). */
export const errorsOf = (outcome: OperationOutcome) => (outcome.kind === "errors" ? outcome.errors : []);

/** An error code of GraphQL errors, as the auth checks set them. */
export const codesOf = (errors: { extensions?: Record<string, unknown> }[] | undefined) => (errors ?? []).map((e) => e.extensions?.code);

/** A literal for an argument: required input fields only, a random UUID for every ID. */
function literal(type: GraphQLInputType): string {
  if (isNonNullType(type)) return literal(type.ofType);
  if (isListType(type)) return `[${literal(type.ofType)}]`;
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type) && f.defaultValue === undefined);
    return `{ ${fields.map((f) => `${f.name}: ${literal(f.type)}`).join(", ")} }`;
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case "ID":
        return JSON.stringify(randomUUID());
      case "String":
        return '"x"';
      case "Int":
      case "Float":
      case "BigInt":
        return "1";
      case "Boolean":
        return "false";
      case "DateTime":
        return '"2099-01-01T00:00:00Z"';
      case "JSON":
        return "{}";
    }
  }
  throw new Error(`no literal for ${String(type)}: add it to the test's generator`);
}

/** A valid operation calling one root field with its required arguments, selecting __typename. */
export function operationFor(kind: "query" | "mutation" | "subscription", field: GraphQLField<unknown, unknown>): string {
  const args = field.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
  const argText = args.length ? `(${args.map((a) => `${a.name}: ${literal(a.type)}`).join(", ")})` : "";
  const selection = isLeafType(getNamedType(field.type)) ? "" : " { __typename }";
  return `${kind} { ${field.name}${argText}${selection} }`;
}
