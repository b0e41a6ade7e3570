import { type DocumentNode, getOperationAST, Kind, type OperationDefinitionNode, type OperationTypeNode, type SelectionSetNode } from "graphql";
import type { Scope } from "./scopes.js";

/**
 * The scope each GraphQL root field needs, in one place. Queries and subscriptions read (the
 * schema's introspection too) unless listed; every mutation is listed, and one missing from the
 * list needs admin: a new mutation is closed until someone decides who may call it.
 */
export const QUERY_SCOPES: Readonly<Record<string, Scope>> = {
  apiKeys: "admin",
};

export const SUBSCRIPTION_SCOPES: Readonly<Record<string, Scope>> = {};

export const MUTATION_SCOPES: Readonly<Record<string, Scope>> = {
  createChat: "ingest",
  renameChat: "ingest",
  startToolTrace: "ingest",
  finishToolTrace: "ingest",
  recordToolTraces: "ingest",
  saveSnapshot: "ingest",
  sendMessage: "agent",
  cancelTurn: "agent",
  updateAgentSettings: "agent",
  deleteChat: "admin",
  deleteSnapshot: "admin",
  restoreSnapshot: "admin",
  createApiKey: "admin",
  revokeApiKey: "admin",
};

/** The scope one root field needs. */
export function scopeOfRootField(operation: OperationTypeNode | "query" | "mutation" | "subscription", field: string): Scope {
  // __typename, __schema, __type: what the schema looks like, which any reader may know.
  if (field.startsWith("__")) return "read";
  if (operation === "mutation") return MUTATION_SCOPES[field] ?? "admin";
  if (operation === "subscription") return SUBSCRIPTION_SCOPES[field] ?? "read";
  return QUERY_SCOPES[field] ?? "read";
}

/** One root field of an operation and the scope it needs. */
export interface RootFieldScope {
  operation: "query" | "mutation" | "subscription";
  field: string;
  scope: Scope;
}

const cache = new WeakMap<DocumentNode, Map<string, RootFieldScope[]>>();

/**
 * Every root field the operation would run, with its scope: fields under fragment spreads and
 * inline fragments at the root count, and so do fields under @skip/@include (their variables are
 * not looked at: asking for more than runs is refused, never the other way round). Without a
 * single operation to run (an unknown operationName, several operations and none named), every
 * operation of the document counts. Cached per parsed document and operation name.
 */
export function rootFieldScopes(document: DocumentNode, operationName?: string | null): RootFieldScope[] {
  const name = operationName ?? "";
  const known = cache.get(document)?.get(name);
  if (known) return known;
  const operation = getOperationAST(document, operationName ?? undefined);
  const operations = operation ? [operation] : document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d.selectionSet] as const] : [])));
  const found = new Map<string, RootFieldScope>();
  for (const op of operations) {
    const seen = new Set<string>();
    const visit = (selections: SelectionSetNode) => {
      for (const selection of selections.selections) {
        if (selection.kind === Kind.FIELD) {
          const field = selection.name.value;
          found.set(`${op.operation}.${field}`, { operation: op.operation, field, scope: scopeOfRootField(op.operation, field) });
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          visit(selection.selectionSet);
        } else {
          const fragment = fragments.get(selection.name.value);
          // An unknown fragment fails validation; a cycle is visited once.
          if (fragment && !seen.has(selection.name.value)) {
            seen.add(selection.name.value);
            visit(fragment);
          }
        }
      }
    };
    visit(op.selectionSet);
  }
  const result = [...found.values()];
  const byName = cache.get(document) ?? new Map<string, RootFieldScope[]>();
  byName.set(name, result);
  cache.set(document, byName);
  return result;
}
