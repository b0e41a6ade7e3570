/**
 * One cap on a command's output, kept while it streams: the first bytes and a ring of the last
 * ones, never the whole output (memory stays under two caps however much a command prints).
 *
 * The result is at most `capBytes` of UTF-8, the note included (as in services/truncate.ts, so the
 * trace store's TRACE_OUTPUT_CAP_BYTES of the same size keeps it whole). Output that fits is kept
 * as it is; beyond it, the head and the tail (half each of what the note leaves) are kept around a
 * note naming the bytes cut: "\n… [12,345 bytes cut] …\n". Neither cut splits a UTF-8 character.
 */

export const DEFAULT_OUTPUT_CAP_BYTES = 32_768;

const groupThousands = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** The note put where the middle was cut. */
export const cutNote = (bytesCut: number) => `\n… [${groupThousands(bytesCut)} bytes cut] …\n`;

/** Room kept for the note: its size for the largest count there can be. */
const NOTE_RESERVE = Buffer.byteLength(cutNote(Number.MAX_SAFE_INTEGER), "utf8");

/** The smallest cap accepted: the note and a little of each end. */
export const MIN_OUTPUT_CAP_BYTES = NOTE_RESERVE + 16;

const isContinuation = (byte: number | undefined) => byte !== undefined && (byte & 0xc0) === 0x80;

export class OutputCap {
  readonly capBytes: number;
  private readonly headLimit: number;
  /** The first capBytes bytes (all of the output while it fits). */
  private readonly first: Buffer;
  private firstLength = 0;
  /** The last tailLimit bytes, as a ring. */
  private readonly ring: Buffer;
  private ringStart = 0;
  private ringLength = 0;
  private total = 0;

  constructor(capBytes: number = DEFAULT_OUTPUT_CAP_BYTES) {
    if (!Number.isSafeInteger(capBytes) || capBytes < MIN_OUTPUT_CAP_BYTES) {
      throw new RangeError(`the output cap must be an integer of at least ${MIN_OUTPUT_CAP_BYTES} bytes, not ${capBytes}`);
    }
    this.capBytes = capBytes;
    const room = capBytes - NOTE_RESERVE;
    this.headLimit = Math.floor(room / 2);
    this.first = Buffer.alloc(capBytes);
    this.ring = Buffer.alloc(room - this.headLimit);
  }

  /** Bytes pushed so far (UTF-8 bytes for strings). */
  get bytes(): number {
    return this.total;
  }

  get truncated(): boolean {
    return this.total > this.capBytes;
  }

  push(chunk: string | Uint8Array): void {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (bytes.length === 0) return;
    this.total += bytes.length;
    if (this.firstLength < this.first.length) {
      this.firstLength += bytes.copy(this.first, this.firstLength, 0, Math.min(bytes.length, this.first.length - this.firstLength));
    }
    this.pushTail(bytes);
  }

  private pushTail(bytes: Buffer): void {
    const size = this.ring.length;
    if (bytes.length >= size) {
      bytes.copy(this.ring, 0, bytes.length - size);
      this.ringStart = 0;
      this.ringLength = size;
      return;
    }
    const writeAt = (this.ringStart + this.ringLength) % size;
    const firstPart = Math.min(bytes.length, size - writeAt);
    bytes.copy(this.ring, writeAt, 0, firstPart);
    bytes.copy(this.ring, 0, firstPart);
    const length = this.ringLength + bytes.length;
    if (length > size) {
      this.ringStart = (this.ringStart + length - size) % size;
      this.ringLength = size;
    } else {
      this.ringLength = length;
    }
  }

  private tailBytes(): Buffer {
    const end = this.ringStart + this.ringLength;
    if (end <= this.ring.length) return this.ring.subarray(this.ringStart, end);
    return Buffer.concat([this.ring.subarray(this.ringStart), this.ring.subarray(0, end - this.ring.length)]);
  }

  /** The capped text (may be called at any time; pushing more afterwards is fine). */
  text(): string {
    if (!this.truncated) return this.first.subarray(0, this.firstLength).toString("utf8");
    // Head: step back over continuation bytes so the character straddling the cut is left out whole.
    // (At most 3: bytes that are not UTF-8 at all are cut where they fall.)
    let headEnd = this.headLimit;
    while (headEnd > this.headLimit - 3 && headEnd > 0 && isContinuation(this.first[headEnd])) headEnd--;
    // Tail: skip the continuation bytes of a character whose start fell before the ring (at most 3).
    const tail = this.tailBytes();
    let tailStart = 0;
    while (tailStart < 3 && isContinuation(tail[tailStart])) tailStart++;
    const kept = headEnd + (tail.length - tailStart);
    return this.first.subarray(0, headEnd).toString("utf8") + cutNote(this.total - kept) + tail.subarray(tailStart).toString("utf8");
  }
}

/** capOutputText(s, cap) is the same as pushing s to a new OutputCap(cap) and taking text(). */
export function capOutputText(text: string, capBytes: number = DEFAULT_OUTPUT_CAP_BYTES): string {
  const cap = new OutputCap(capBytes);
  cap.push(text);
  return cap.text();
}
