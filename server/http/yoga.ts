import { GraphQLError } from "graphql";
import { createYoga, maskError, type YogaServerInstance } from "graphql-yoga";
import type { Config } from "../config.js";
import type { ChatEventRouter } from "../events/router.js";
import type { Logger } from "../logger.js";
import type { GraphQLContext } from "../schema/context.js";
import { schema } from "../schema/index.js";
import { createLoaders } from "../schema/loaders/index.js";
import type { Services } from "../services/index.js";
import { outageStatusPlugin, publicDatabaseError } from "./database-errors.js";
import type { AgentRunner } from "../agent/runner.js";
import type { Authenticator } from "../auth/authenticator.js";
import { authPlugin } from "../auth/graphql-plugin.js";
import { renderGraphiQLPage } from "./graphiql.js";
import { operationLimitPlugins } from "./operation-limits.js";

export type TracedeckYoga = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

export interface YogaOptions {
  config: Config;
  services: Services;
  router: ChatEventRouter;
  /** Tracedeck's agent; without one, its mutations answer AgentDisabledError. */
  agent?: AgentRunner;
  log: Logger;
  /** Sizes the default complexity limit: PGlite runs in this process and blocks it while it works. */
  databaseKind: "pglite" | "postgresql";
  /** API keys and scopes per operation (auth/graphql-plugin.ts); without it nothing is checked. */
  auth?: Authenticator;
}

export function createTracedeckYoga({ config, services, router, agent, log, databaseKind, auth }: YogaOptions): TracedeckYoga {
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
    // send it preflighted requests (form, multipart and text/plain POSTs are refused by the guard in routes.ts).
    cors: config.CORS_ORIGINS.length > 0 ? { origin: config.CORS_ORIGINS, credentials: true, methods: ["GET", "POST"] } : false,
    logging: false,
    // Called per HTTP request and per WebSocket operation (websocket.ts uses its contextFactory).
    context: (): GraphQLContext => ({ services, agent, router, log, limits, loaders: createLoaders() }),
    graphiql: { title: "Tracedeck GraphiQL", subscriptionsProtocol: "WS" },
    renderGraphiQL: (options) => renderGraphiQLPage({ ...options }),
    // Unexpected errors reach the client as "Unexpected error."; the log keeps what happened. A
    // database that is down or too slow is said so, as a retryable error.
    maskedErrors: {
      maskError(error, message, isDev) {
        const original = (error as { originalError?: unknown }).originalError;
        if (original !== undefined && !(original instanceof GraphQLError)) {
          const path = (error as { path?: readonly (string | number)[] }).path;
          const known = publicDatabaseError(original, path);
          if (known) {
            log.warn("graphql.database_error", { code: known.extensions.code, error: (original as Error).message, path: path?.join(".") });
            return known;
          }
          log.error("graphql.unexpected_error", { error: original, path: path?.join(".") });
        }
        return maskError(error, message, isDev);
      },
    },
    // Yoga's validation cache would keep the complexity limit's verdict, which depends on the
    // variables (page sizes): operation-limits.ts caches the rest of validation itself.
    parserAndValidationCache: { validationCache: false },
    plugins: [
      // First: who asks and whether they may, before any limit or execution.
      ...(auth ? [authPlugin(auth)] : []),
      ...operationLimitPlugins({
        maxDepth: config.MAX_QUERY_DEPTH,
        maxAliases: config.MAX_QUERY_ALIASES,
        maxTokens: config.MAX_QUERY_TOKENS,
        maxDirectives: config.MAX_QUERY_DIRECTIVES,
        maxComplexity: config.MAX_QUERY_COMPLEXITY ?? (databaseKind === "pglite" ? 10_000 : 20_000),
        operationTimeoutMs: config.OPERATION_TIMEOUT_MS,
        pages: { defaultPageSize: config.DEFAULT_PAGE_SIZE, maxPageSize: config.MAX_PAGE_SIZE },
      }),
      outageStatusPlugin(),
    ],
  });
}
