import { createHash } from "node:crypto";

export interface StoredOutput {
  text: string;
  /** UTF-8 size of the original output. */
  bytes: number;
  truncated: boolean;
  /** SHA-256 of the original output: replays are compared by it. */
  hash: string;
}

const marker = (bytes: number) => `\n…[output truncated: ${bytes} bytes in all]`;

/**
 * Keeps output within capBytes of UTF-8, marker included, cutting only between characters.
 */
export function capOutput(output: string, capBytes: number): StoredOutput {
  const buffer = Buffer.from(output, "utf8");
  const hash = createHash("sha256").update(buffer).digest("hex");
  if (buffer.length <= capBytes) return { text: output, bytes: buffer.length, truncated: false, hash };
  const tail = marker(buffer.length);
  let keep = Math.max(0, capBytes - Buffer.byteLength(tail, "utf8"));
  // Step back over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (keep > 0 && (buffer[keep]! & 0xc0) === 0x80) keep--;
  return { text: buffer.subarray(0, keep).toString("utf8") + tail, bytes: buffer.length, truncated: true, hash };
}
