import type { Server } from "node:http";
import type { IncomingMessage } from "node:http";
import { type DocumentNode, type ExecutionArgs, GraphQLError } from "graphql";
import type { OperationResult } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { Logger } from "../logger.js";
import { hostOf, originOf, type RequestPolicy } from "./request-policy.js";
import type { TracedeckYoga } from "./yoga.js";

type EnvelopedRoot = { execute: (args: ExecutionArgs) => OperationResult; subscribe: (args: ExecutionArgs) => OperationResult };

/**
 * graphql-ws on the GraphQL path, through yoga.getEnveloped: the same plugins, context, limits and
 * error masking as HTTP.
 */
export function attachGraphQLWebSocket(
  server: Server,
  yoga: TracedeckYoga,
  options: { maxPayload: number; log: Logger; policy: RequestPolicy },
) {
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
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
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
        options.log.warn("graphql_ws.operation_errors", { errors: errors.map((e) => e.message) });
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
