import { createReadStream } from "node:fs";

export interface Line {
  /** 1-based, as editors count. */
  number: number;
  /** Byte offset of the line's first byte: a later read can start there. */
  offset: number;
  text: string;
}

/** A line longer than the reader keeps: a file that is not an export, or a damaged one. */
export class LineTooLongError extends Error {
  override name = "LineTooLongError";
  constructor(
    readonly lineNumber: number,
    readonly maxBytes: number,
  ) {
    super(`line ${lineNumber} is longer than ${maxBytes} bytes`);
  }
}

/**
 * The lines of a file (\n or \r\n), read as a stream from `start` (a line's offset), each with its
 * number and offset. A line is held whole only up to `maxBytes`: a longer one throws instead of
 * filling memory.
 */
export async function* readLines(file: string, options: { maxBytes: number; start?: { offset: number; number: number } }): AsyncGenerator<Line> {
  const stream = createReadStream(file, { start: options.start?.offset ?? 0 });
  let parts: Buffer[] = [];
  let pending = 0;
  let number = options.start?.number ?? 1;
  let offset = options.start?.offset ?? 0;
  const take = (tail: Buffer): Line => {
    const bytes = parts.length ? Buffer.concat([...parts, tail]) : tail;
    parts = [];
    pending = 0;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    const line = { number, offset, text: bytes.toString("utf8", 0, end) };
    number++;
    offset += bytes.length + 1;
    return line;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, from)) {
        if (pending + at - from > options.maxBytes) throw new LineTooLongError(number, options.maxBytes);
        yield take(chunk.subarray(from, at));
        from = at + 1;
      }
      if (from < chunk.length) {
        pending += chunk.length - from;
        if (pending > options.maxBytes) throw new LineTooLongError(number, options.maxBytes);
        parts.push(chunk.subarray(from));
      }
    }
    if (pending > 0) yield take(Buffer.alloc(0));
  } finally {
    stream.destroy();
  }
}
