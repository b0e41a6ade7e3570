import type { IncomingMessage } from "node:http";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { createGunzip, createInflate } from "node:zlib";
import { HttpRefusal } from "./refusal.js";

const decoders: Record<string, (() => NodeJS.ReadWriteStream) | undefined> = {
  identity: undefined,
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: createInflate,
};

/**
 * Reads a request body, decompressing gzip or deflate, and refuses it as soon as the bytes on the
 * wire or the decompressed bytes pass maxBytes: before anything parses it, and before a small
 * compressed body can unpack into a large one.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpRefusal(413, "BODY_TOO_LARGE", `The request body is ${declared} bytes; the limit is ${maxBytes}`);
  }
  const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (!(encoding in decoders)) {
    throw new HttpRefusal(415, "UNSUPPORTED_MEDIA_TYPE", `Content-Encoding ${JSON.stringify(encoding)} is not supported; send identity, gzip or deflate`);
  }
  const decoder = decoders[encoding];
  const chunks: Buffer[] = [];
  let size = 0;
  let wire = 0;
  const tooLarge = (what: string) => new HttpRefusal(413, "BODY_TOO_LARGE", `The request body ${what} passes the limit of ${maxBytes} bytes`);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > maxBytes) return done(tooLarge(decoder ? "once decompressed" : ""));
      chunks.push(chunk);
      done();
    },
  });
  const counted = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      wire += chunk.length;
      if (wire > maxBytes) throw tooLarge("");
      yield chunk;
    }
  };
  try {
    if (decoder) await pipeline(req, counted, decoder(), sink);
    else await pipeline(req, counted, sink);
  } catch (error) {
    if (error instanceof HttpRefusal) throw error;
    if ((error as NodeJS.ErrnoException).code?.startsWith("Z_")) {
      throw new HttpRefusal(400, "BAD_REQUEST", `The request body is not valid ${encoding} data`);
    }
    throw error;
  }
  if (decoder) {
    // What follows sees the plain body: it must not try to decompress it again.
    delete req.headers["content-encoding"];
    req.headers["content-length"] = String(size);
  }
  return Buffer.concat(chunks);
}

/**
 * A browser sends form, multipart and text/plain POSTs cross-site without a preflight: refusing
 * them stops cross-site request forgery on every POST endpoint, while JSON and protobuf pass.
 */
export function isSimpleCrossSiteContentType(contentType: string | undefined): boolean {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  return type === "" || type === "application/x-www-form-urlencoded" || type === "multipart/form-data" || type === "text/plain";
}
