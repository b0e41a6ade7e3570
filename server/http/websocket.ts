import type { Server } from "node:http";
import type { IncomingMessage } from "node:http";
import { type DocumentNode, type ExecutionArgs, GraphQLError } from "graphql";
import type { OperationResult } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { Logger } from "../logger.js";
import type { TracedeckYoga } from "./yoga.js";

type EnvelopedRoot = { execute: (args: ExecutionArgs) => OperationResult; subscribe: (args: ExecutionArgs) => OperationResult };

/**
 * graphql-ws on the GraphQL path, through yoga.getEnveloped: the same plugins, context, limits and
 * error masking as HTTP.
 */
export function attachGraphQLWebSocket(
  server: Server,
  yoga: TracedeckYoga,
  options: { maxPayload: number; log: Logger; allowOrigin: (origin: string | undefined, host: string | undefined) => boolean },
) {
  const wss = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    maxPayload: options.maxPayload,
    // Browsers let any page open a WebSocket to localhost: only this origin and the allowed ones may.
    verifyClient: ({ req }: { req: IncomingMessage }) => {
      const allowed = options.allowOrigin(req.headers.origin, req.headers.host);
      if (!allowed) options.log.warn("graphql_ws.origin_refused", { origin: req.headers.origin });
      return allowed;
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
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          // A syntax error fails this operation only, not the client's other subscriptions on the socket.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } as EnvelopedRoot,
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
      onError: (_ctx, _id, _payload, errors) => {
        options.log.warn("graphql_ws.operation_errors", { errors: errors.map((e) => e.message) });
      },
    },
    wss,
  );
  return {
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
