import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Server as NetServer } from "node:net";

/**
 * How long idle keep-alive connections stay open after a stop begins. A request a client sent just
 * before the signal may still be unread in the socket: closing the connection then would reset it.
 * Once read, it is under way, and is served with Connection: close.
 */
const IDLE_CLOSE_DELAY_MS = 250;
const ACCEPT_BACKLOG_MS = 20;

export interface HttpServer {
  server: Server;
  /**
   * Stops accepting connections, answers `Connection: close` on every response from now on, lets
   * the requests already under way finish within graceMs, then cuts whatever is left. Resolves
   * with the number of requests that had to be cut.
   */
  drain(graceMs: number): Promise<number>;
}

/** The HTTP server, counting the requests under way so that a stop can let them finish. */
export function createHttpServer(handle: (req: IncomingMessage, res: ServerResponse) => void): HttpServer {
  const active = new Set<ServerResponse>();
  let draining = false;
  let settled: (() => void) | undefined;

  const server = createServer((req, res) => {
    active.add(res);
    // A keep-alive client must not send its next request on a connection the server is closing.
    if (draining) res.setHeader("connection", "close");
    res.once("close", () => {
      active.delete(res);
      if (draining && active.size === 0) settled?.();
    });
    handle(req, res);
  });
  // Longer than clients' and proxies' idle timeouts, so they close an idle connection first and never
  // send a request on one the server is closing.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  return {
    server,
    async drain(graceMs) {
      draining = true;
      for (const res of active) if (!res.headersSent) res.setHeader("connection", "close");
      // Connections the kernel completed before the stop wait to be accepted: take them (their
      // requests are under way too), then stop listening. Not through http's close(), which also
      // closes idle connections at once, resetting any whose request is still unread.
      await new Promise((resolve) => setTimeout(resolve, Math.min(ACCEPT_BACKLOG_MS, graceMs)));
      const closed = new Promise<void>((resolve) => Reflect.apply(NetServer.prototype.close, server, [() => resolve()]));
      await new Promise((resolve) => setTimeout(resolve, Math.min(IDLE_CLOSE_DELAY_MS, graceMs)));
      // http's close(): closes the idle connections now, and clears its connection-check timer.
      server.close();
      const finished = active.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (settled = resolve));
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        finished.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
      ]);
      clearTimeout(timer);
      const cut = inTime ? 0 : active.size;
      server.closeAllConnections();
      await closed;
      return cut;
    },
  };
}
