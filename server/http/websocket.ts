import type { Server } from "node:http";
import type { IncomingMessage } from "node:http";
import { type DocumentNode, type ExecutionArgs, GraphQLError } from "graphql";
import type { OperationResult } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import { type Authenticator, AuthRefusal } from "../auth/authenticator.js";
import { keyFromConnectionParams } from "../auth/credentials.js";
import { SOCKET_KEY, type SocketKeyContext } from "../auth/graphql-plugin.js";
import { isDatabaseUnavailable } from "../db/availability.js";
import type { Logger } from "../logger.js";
import { hostOf, originOf, type RequestPolicy } from "./request-policy.js";
import type { TracedeckYoga } from "./yoga.js";

type EnvelopedRoot = { execute: (args: ExecutionArgs) => OperationResult; subscribe: (args: ExecutionArgs) => OperationResult };

/** graphql-ws's close code for a refused connection_init; also used when a key is revoked or expires. */
export const CLOSE_FORBIDDEN = 4403;
/** A WebSocket close reason holds at most 123 bytes. */
const closeReason = (message: string) => (Buffer.byteLength(message) <= 123 ? message : `${Buffer.from(message).subarray(0, 120).toString("utf8").replace(/\uFFFD$/, "")}…`);

/**
 * graphql-ws on the GraphQL path, through yoga.getEnveloped: the same plugins, context, limits and
 * error masking as HTTP.
 */
export function attachGraphQLWebSocket(
  server: Server,
  yoga: TracedeckYoga,
  options: {
    maxPayload: number;
    log: Logger;
    policy: RequestPolicy;
    /** API keys: connection_init must carry one when auth is on. */
    auth?: Authenticator;
    /** How often an open socket checks its key again (WS_AUTH_RECHECK_SECONDS). */
    authRecheckMs?: number;
  },
) {
  const { auth, log } = options;
  const recheckMs = options.authRecheckMs ?? 30_000;
  /** Each authenticated socket's key (never logged) and its recheck timer. */
  const sockets = new WeakMap<object, { key: string | undefined; timer?: NodeJS.Timeout }>();
  const wss = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    maxPayload: options.maxPayload,
    // Browsers let any page open a WebSocket to localhost, and send no preflight: the same Host and
    // Origin rules as HTTP decide, before the upgrade.
    verifyClient: ({ req }: { req: IncomingMessage }, done: (ok: boolean, status?: number, message?: string) => void) => {
      if (!options.policy.hostAllowed(hostOf(req))) {
        options.log.warn("graphql_ws.host_refused", { host: req.headers.host });
        return done(false, 403, "Host not allowed");
      }
      const origin = originOf(req);
      if (!options.policy.originAllowed(origin, hostOf(req))) {
        options.log.warn("graphql_ws.origin_refused", { origin });
        return done(false, 403, "Origin not allowed");
      }
      done(true);
    },
  });
  const disposable = useServer(
    {
      // The key comes in connection_init; a socket without a good one is closed with 4403 and a
      // reason, and an accepted one is checked again every recheckMs (a revoke or an expiry
      // closes it the same way). The connection_init payload is never logged.
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const key = keyFromConnectionParams(ctx.connectionParams);
        if (!auth?.enabled) {
          sockets.set(ctx, { key });
          return true;
        }
        let outcome;
        try {
          outcome = await auth.authenticate(key, "websocket");
        } catch (error) {
          if (!isDatabaseUnavailable(error)) throw error;
          log.warn("graphql_ws.auth_unavailable", { error: (error as Error).message });
          socket.close(1013, "The database is unavailable; try again shortly");
          return false;
        }
        if (outcome instanceof AuthRefusal) {
          log.info("graphql_ws.auth_refused", { reason: outcome.message });
          socket.close(CLOSE_FORBIDDEN, closeReason(outcome.message));
          return false;
        }
        const entry: { key: string | undefined; timer?: NodeJS.Timeout } = { key };
        entry.timer = setInterval(() => {
          auth.authenticate(key, "websocket").then(
            (again) => {
              if (!(again instanceof AuthRefusal)) return;
              log.info("graphql_ws.auth_closed", { reason: again.message, keyId: outcome.id });
              socket.close(CLOSE_FORBIDDEN, closeReason(again.message));
            },
            // The database is down: the socket stays, the next check decides.
            (error: unknown) => log.warn("graphql_ws.auth_recheck_failed", { error: (error as Error).message }),
          );
        }, recheckMs);
        entry.timer.unref();
        socket.once("close", () => clearInterval(entry.timer));
        sockets.set(ctx, entry);
        return true;
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onSubscribe: async (ctx, _id, payload) => {
        // connectionParams (which hold the key) stay out of the operation's context.
        const { connectionParams: _params, ...connection } = ctx;
        const socketKey: SocketKeyContext = { [SOCKET_KEY]: { key: sockets.get(ctx)?.key } };
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...connection,
          ...socketKey,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        });
        // A syntax error or a limit (depth, aliases, tokens: the limit plugins throw) fails this
        // operation only, not the client's other subscriptions on the socket.
        try {
          const document: DocumentNode = parse(payload.query);
          const errors = validate(schema, document);
          if (errors.length) return errors;
          const args: ExecutionArgs = {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe } as EnvelopedRoot,
          };
          return args;
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
      },
      onError: (_ctx, _id, _payload, errors) => {
        log.warn("graphql_ws.operation_errors", { errors: errors.map((e) => e.message) });
      },
    },
    wss,
  );
  return {
    /** Closes every socket with 1001 (going away); one whose client does not answer within graceMs is cut. */
    async close(graceMs: number) {
      const clients = [...wss.clients];
      // dispose() sends 1001 to every socket, but resolves only once all have closed: for a
      // client that never answers, after ws's own 30 s. The grace period bounds the wait instead.
      const disposed = disposable.dispose();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([disposed, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      for (const c of clients) c.terminate();
      await disposed;
    },
  };
}
