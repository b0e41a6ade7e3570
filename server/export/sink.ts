import type { Writable } from "node:stream";

/** Where an export writes: text, in order, awaited so a slow reader slows the reads down. */
export interface Sink {
  write(text: string): Promise<void>;
  /** Writes what is buffered and ends the stream. */
  end(): Promise<void>;
}

/** The reader went away mid-export: nothing more is read for it. */
export class SinkClosedError extends Error {
  override name = "SinkClosedError";
}

/** Chunks of about this many characters reach the socket: one write per record would be slow. */
const CHUNK = 64 * 1024;

/**
 * A sink over a writable stream (an HTTP response) that respects its backpressure: when the stream
 * asks to wait, the next write waits for "drain", and a stream closed by its reader fails the next
 * write, which ends the export's reads.
 */
export function streamSink(stream: Writable): Sink {
  let buffered: string[] = [];
  let size = 0;
  const closed = () => stream.destroyed || stream.writableEnded;

  async function flush(): Promise<void> {
    if (size === 0) return;
    if (closed()) throw new SinkClosedError("the reader closed the connection");
    const text = buffered.join("");
    buffered = [];
    size = 0;
    if (stream.write(text)) return;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        stream.off("drain", done);
        stream.off("close", gone);
        resolve();
      };
      const gone = () => {
        stream.off("drain", done);
        stream.off("close", gone);
        reject(new SinkClosedError("the reader closed the connection"));
      };
      stream.on("drain", done);
      stream.on("close", gone);
    });
  }

  return {
    async write(text) {
      buffered.push(text);
      size += text.length;
      if (size >= CHUNK) await flush();
    },
    async end() {
      await flush();
      if (!closed()) await new Promise<void>((resolve) => stream.end(resolve));
    },
  };
}
