import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { type App, buildApp } from "../../server/app.js";
import type { Sandbox } from "../../server/agent/sandbox.js";
import { type AgentConfig, type ClaudeCodeConfig, type Config, loadConfig } from "../../server/config.js";
import { setPrisma } from "../../server/db/client.js";
import type { EventBus } from "../../server/events/pubsub.js";
import { silentLogger, type Logger } from "../../server/logger.js";
import type { TestDatabase } from "./db.js";

export interface TestApp {
  app: App;
  config: Config;
  /** The server's base URL, set once started. */
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  stop(): Promise<void>;
}

/** Builds the app on a test database. `listen: false` keeps it in process (use yoga.fetch). */
export async function startTestApp(
  db: TestDatabase,
  options: {
    env?: Record<string, string>;
    listen?: boolean;
    log?: Logger;
    bus?: EventBus;
    agentSandbox?: Sandbox;
    agentConfig?: Partial<AgentConfig>;
    claudeCodeConfig?: Partial<ClaudeCodeConfig>;
  } = {},
): Promise<TestApp> {
  setPrisma(db.prisma);
  const config = loadConfig({ PORT: "0", LOG_LEVEL: "silent", ...options.env });
  // `npm test` needs no outside program: unless a test asks for one, the agent runs unconfined.
  const app = buildApp({ config, db, log: options.log ?? silentLogger, bus: options.bus, agentSandbox: options.agentSandbox ?? { kind: "off" },
    agentConfig: options.agentConfig,
    claudeCodeConfig: options.claudeCodeConfig,
  });
  let url = "";
  if (options.listen === false) await app.ready();
  else url = await app.start(0);
  return {
    app,
    config,
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `${url.replace(/^http/, "ws")}/graphql`,
    stop: () => app.stop(),
  };
}

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** Runs an operation in process, through yoga.fetch: the full Yoga pipeline without a socket. */
export async function execute<T = Record<string, any>>(app: App, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  const response = await app.yoga.fetch("http://tracedeck.test/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** Runs an operation over real HTTP. */
export async function post<T = Record<string, any>>(graphqlUrl: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  const response = await fetch(graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** A real graphql-ws client (Node 20 has no global WebSocket). */
export function wsClient(wsUrl: string): Client {
  return createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
}

/** Collects a subscription's messages; `until` resolves when the predicate holds over what arrived. */
export function subscribe<T = Record<string, any>>(client: Client, query: string, variables?: Record<string, unknown>) {
  const received: GraphQLResponse<T>[] = [];
  let waiter: { check: () => void } | undefined;
  let failure: unknown;
  let completed = false;
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        received.push(value as GraphQLResponse<T>);
        waiter?.check();
      },
      error: (error) => {
        failure = error;
        waiter?.check();
      },
      complete: () => {
        completed = true;
        waiter?.check();
      },
    },
  );
  return {
    received,
    get completed() {
      return completed;
    },
    dispose,
    /** Waits (generously: arrival, not speed) until predicate(received) holds. */
    until(predicate: (items: GraphQLResponse<T>[]) => boolean, timeoutMs = 20_000): Promise<GraphQLResponse<T>[]> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`subscription did not deliver in ${timeoutMs} ms; got ${JSON.stringify(received).slice(0, 2000)}`)), timeoutMs);
        waiter = {
          check() {
            if (failure) {
              clearTimeout(timer);
              reject(failure instanceof Error ? failure : new Error(JSON.stringify(failure)));
            } else if (predicate(received) || completed) {
              clearTimeout(timer);
              resolve(received);
            }
          },
        };
        waiter.check();
      });
    },
  };
}

/** A mutation's single (union) result; fails the test on a GraphQL error or a typed error result. */
export function mutationResult(response: GraphQLResponse): Record<string, any> {
  if (response.errors) throw new Error(`unexpected GraphQL errors: ${JSON.stringify(response.errors)}`);
  const [result] = Object.values(response.data!) as Record<string, any>[];
  if (typeof result?.__typename === "string" && /Error$/.test(result.__typename)) throw new Error(`unexpected error result: ${JSON.stringify(result)}`);
  return result!;
}

/** The graphql-ws clients a test file opens, disposed together in afterAll. */
export function wsClients(wsUrl: () => string) {
  const open: Client[] = [];
  return {
    client(): Client {
      const c = wsClient(wsUrl());
      open.push(c);
      return c;
    },
    async disposeAll(): Promise<void> {
      await Promise.allSettled(open.map((c) => c.dispose()));
    },
  };
}
