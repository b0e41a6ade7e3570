// A TCP proxy in front of the server, so a test can really drop the browser's connections: the page
// is loaded through it (its origin and Host are the proxy's, a loopback name the server answers),
// and `drop()` destroys every open socket (the WebSocket gets a real TCP reset, as on a network
// failure) and refuses new ones until `restore()`. The server keeps running and taking writes.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface DroppableProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Destroys every proxied connection and refuses new ones until restore(). */
  drop(): void;
  restore(): void;
  /** Connections accepted and refused so far. */
  stats(): { accepted: number; refused: number; open: number };
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<DroppableProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let down = false;
  let accepted = 0;
  let refused = 0;
  const server: Server = createServer((client) => {
    if (down) {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    accepted += 1;
    const upstream = connect(Number(port), hostname);
    open.add(client);
    open.add(upstream);
    const end = () => {
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    drop() {
      down = true;
      for (const socket of [...open]) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      down = false;
    },
    stats: () => ({ accepted, refused, open: open.size }),
    async close() {
      down = true;
      for (const socket of [...open]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
