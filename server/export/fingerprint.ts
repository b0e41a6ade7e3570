import { createHash } from "node:crypto";
import stringify from "safe-stable-stringify";
import type { ContentRecord } from "../ingest/tracedeck/format.js";

const MOD = 1n << 256n;

/**
 * The content of a chat as a fingerprint, built one record at a time: the sum (mod 2^256) of each
 * record's SHA-256 over its canonical JSON (keys sorted). The sum does not depend on the order of
 * the records, so a file whose lines were reordered, or a chat read in another order, still
 * matches. The import compares a file's fingerprint with the stored chat's to tell "already
 * there" from "a different chat with the same id".
 */
export class ContentFingerprint {
  private sum = 0n;
  private records = 0;

  add(record: ContentRecord): void {
    const digest = createHash("sha256").update(stringify(record) ?? "null").digest("hex");
    this.sum = (this.sum + BigInt(`0x${digest}`)) % MOD;
    this.records++;
  }

  get value(): string {
    return `${this.records}:${this.sum.toString(16).padStart(64, "0")}`;
  }
}

export async function fingerprintOf(records: AsyncIterable<ContentRecord>): Promise<string> {
  const fingerprint = new ContentFingerprint();
  for await (const record of records) fingerprint.add(record);
  return fingerprint.value;
}
