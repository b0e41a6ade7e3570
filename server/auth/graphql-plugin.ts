import { type ExecutionArgs, GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { type Authenticator, AuthRefusal } from "./authenticator.js";
import { keyFromAuthorization } from "./credentials.js";
import { rootFieldScopes } from "./operation-scopes.js";

/**
 * The context field a WebSocket operation carries its socket's key in (websocket.ts sets it from
 * connection_init). An HTTP operation has none and is read from its Authorization header instead.
 */
export const SOCKET_KEY = "tracedeckSocketKey";
export interface SocketKeyContext {
  [SOCKET_KEY]?: { key: string | undefined };
}

/** A refusal as a GraphQL error: 401 or 403 over HTTP, an error of the operation over WebSocket. */
export function authError(refusal: AuthRefusal): GraphQLError {
  return new GraphQLError(refusal.message, {
    extensions: {
      code: refusal.code,
      http: { status: refusal.status, ...(refusal.status === 401 ? { headers: { "www-authenticate": 'Bearer realm="tracedeck"' } } : {}) },
    },
  });
}

function keyOf(context: unknown): { key: string | undefined; where: "http" | "websocket" } {
  const socket = (context as SocketKeyContext)[SOCKET_KEY];
  if (socket) return { key: socket.key, where: "websocket" };
  const request = (context as { request?: Request }).request;
  return { key: keyFromAuthorization(request?.headers.get("authorization")), where: "http" };
}

/**
 * Every operation, over HTTP or WebSocket, needs a key holding the scope of each root field it
 * runs (operation-scopes.ts), checked before it executes or subscribes. Over HTTP a missing or bad
 * key is refused (401) before the document is even parsed. Verification is cached by the service,
 * so an operation costs a hash and a map lookup.
 */
export function authPlugin(auth: Authenticator): Plugin {
  if (!auth.enabled) return {};
  const check = async (args: ExecutionArgs): Promise<GraphQLError | undefined> => {
    const { key, where } = keyOf(args.contextValue);
    const fields = rootFieldScopes(args.document, args.operationName);
    const what = fields.length === 1 ? `${fields[0]!.operation} ${fields[0]!.field}` : `this ${fields[0]?.operation ?? "operation"} (${fields.map((f) => f.field).join(", ")})`;
    const outcome = await auth.check(key, new Set(fields.map((f) => f.scope)), what, where);
    return outcome instanceof AuthRefusal ? authError(outcome) : undefined;
  };
  return {
    async onParams({ request, setResult }) {
      const outcome = await auth.authenticate(keyFromAuthorization(request.headers.get("authorization")), "http");
      if (outcome instanceof AuthRefusal) setResult({ errors: [authError(outcome)] });
    },
    async onExecute({ args, setResultAndStopExecution }) {
      const refused = await check(args);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const refused = await check(args);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
  };
}
