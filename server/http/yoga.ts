import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { GraphQLError } from "graphql";
import { createYoga, maskError, type YogaServerInstance } from "graphql-yoga";
import type { Config } from "../config.js";
import type { ChatEventRouter } from "../events/router.js";
import type { Logger } from "../logger.js";
import type { GraphQLContext } from "../schema/context.js";
import { schema } from "../schema/index.js";
import type { Services } from "../services/index.js";
import { renderGraphiQLPage } from "./graphiql.js";

export type TracedeckYoga = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

export interface YogaOptions {
  config: Config;
  services: Services;
  router: ChatEventRouter;
  log: Logger;
}

export function createTracedeckYoga({ config, services, router, log }: YogaOptions): TracedeckYoga {
  const limits = {
    maxPageSize: config.MAX_PAGE_SIZE,
    defaultPageSize: config.DEFAULT_PAGE_SIZE,
    cursorSecret: config.CURSOR_SECRET,
    streamIdleCheckMs: config.STREAM_IDLE_CHECK_SECONDS * 1000,
  };
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    // No CORS headers unless origins are configured: other sites' pages cannot read the API or
    // send it preflighted requests (form, multipart and text/plain POSTs are refused in app.ts).
    cors: config.CORS_ORIGINS.length > 0 ? { origin: config.CORS_ORIGINS, credentials: true, methods: ["GET", "POST"] } : false,
    logging: false,
    context: (): GraphQLContext => ({ services, router, log, limits }),
    graphiql: { title: "Tracedeck GraphiQL", subscriptionsProtocol: "WS" },
    renderGraphiQL: (options) => renderGraphiQLPage({ ...options }),
    // Unexpected errors reach the client as "Unexpected error."; the log keeps what happened.
    maskedErrors: {
      maskError(error, message, isDev) {
        const original = (error as { originalError?: unknown }).originalError;
        if (original !== undefined && !(original instanceof GraphQLError)) {
          const path = (error as { path?: readonly (string | number)[] }).path;
          log.error("graphql.unexpected_error", { error: original, path: path?.join(".") });
        }
        return maskError(error, message, isDev);
      },
    },
    plugins: [maxDepthPlugin({ n: config.MAX_QUERY_DEPTH, exposeLimits: true, ignoreIntrospection: true })],
  });
}
