// Fakes for the dashboard shell's tests: a real urql Client whose HTTP (fetch) and subscription
// (forwardSubscription) ends are driven by the test, and a connection whose reconnects it bumps.
import { Client, fetchExchange, subscriptionExchange } from "@urql/core";
import { ref } from "vue";
import type { ConnectionInfo, ConnectionState } from "../../web/src/connection";

export interface FakeSubscription {
  operationName: string | undefined;
  variables: Record<string, unknown>;
  closed: boolean;
  /** Delivers one result, as graphql-ws would ({ data } or { errors }). */
  next(result: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] }): void;
  complete(): void;
}

export interface FakeRequest {
  operationName: string;
  variables: Record<string, unknown>;
}

export type QueryHandler = (request: FakeRequest) => unknown | Promise<unknown>;

/** Lets the urql pipeline (microtasks and a macrotask) settle. */
export const settle = async (times = 3) => {
  for (let i = 0; i < times; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};

export function fakeClient(handleQuery: QueryHandler = () => ({ data: null })) {
  const subscriptions: FakeSubscription[] = [];
  const requests: FakeRequest[] = [];

  const fakeFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input), "http://tracedeck.test");
    let body: { query?: string; operationName?: string; variables?: Record<string, unknown> };
    if (init?.method === "POST" || (init?.body && typeof init.body === "string")) body = JSON.parse(String(init!.body));
    else
      body = {
        query: url.searchParams.get("query") ?? undefined,
        operationName: url.searchParams.get("operationName") ?? undefined,
        variables: JSON.parse(url.searchParams.get("variables") ?? "{}"),
      };
    const operationName = body.operationName ?? /(?:query|mutation)\s+(\w+)/.exec(body.query ?? "")?.[1] ?? "";
    const request = { operationName, variables: body.variables ?? {} };
    requests.push(request);
    const result = await handleQuery(request);
    return new Response(JSON.stringify(result), { status: 200, headers: { "content-type": "application/json" } });
  };

  const client = new Client({
    url: "http://tracedeck.test/graphql",
    fetch: fakeFetch as typeof fetch,
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          return {
            subscribe(sink) {
              const subscription: FakeSubscription = {
                operationName: request.operationName,
                variables: { ...(request.variables as Record<string, unknown>) },
                closed: false,
                next(result) {
                  if (!subscription.closed) sink.next(result as never);
                },
                complete() {
                  if (!subscription.closed) sink.complete();
                },
              };
              subscriptions.push(subscription);
              return {
                unsubscribe() {
                  subscription.closed = true;
                },
              };
            },
          };
        },
      }),
    ],
  });

  return {
    client,
    subscriptions,
    requests,
    /** The open subscriptions of one operation. */
    open: (operationName: string) => subscriptions.filter((s) => s.operationName === operationName && !s.closed),
  };
}

/** A ConnectionInfo whose state and reconnects the test sets. */
export function fakeConnection() {
  const state = ref<ConnectionState>("connected");
  const reconnects = ref(0);
  const listeners = new Set<() => void>();
  const info: ConnectionInfo = {
    state,
    reconnects,
    lastClose: ref(null),
    connectedAt: ref(Date.now()),
    onReconnect(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return {
    info,
    state,
    reconnect() {
      state.value = "connected";
      reconnects.value += 1;
      for (const listener of listeners) listener();
    },
  };
}
