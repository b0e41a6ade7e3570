import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { capOutput } from "../../server/services/truncate.js";

const strict = new TextDecoder("utf-8", { fatal: true });
const MARKER_START = "\n…[output truncated: ";
const bytes = (s: string) => Buffer.byteLength(s, "utf8");
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

/**
 * Checks everything a truncated result must satisfy and returns how many bytes of the original
 * were kept: within the cap with the marker, the marker names the original size, the kept part is
 * a byte prefix of the original that ends on a character boundary, and as long as it can be.
 */
function checkTruncated(original: string, cap: number) {
  const result = capOutput(original, cap);
  const originalBytes = Buffer.from(original, "utf8");
  expect(result.truncated).toBe(true);
  expect(result.bytes).toBe(originalBytes.length);
  expect(result.hash).toBe(sha256(original));

  const marker = `${MARKER_START}${originalBytes.length} bytes in all]`;
  expect(result.text.endsWith(marker)).toBe(true);
  expect(bytes(result.text)).toBeLessThanOrEqual(cap); // the marker is inside the cap
  expect(result.text.isWellFormed()).toBe(true); // no lone surrogate half of a 4-byte character

  const kept = result.text.slice(0, result.text.length - marker.length);
  const keptBytes = bytes(kept);
  // The cut is between characters: the original's first keptBytes bytes decode strictly...
  const decoded = strict.decode(originalBytes.subarray(0, keptBytes));
  // ...to exactly the kept text, with no replacement character standing in for half a character.
  expect(decoded).toBe(kept);
  expect(kept.includes("\uFFFD")).toBe(false);
  expect(original.startsWith(kept)).toBe(true);
  // Nothing more would have fitted: the next whole character would break the cap.
  const nextChar = String.fromCodePoint(original.slice(kept.length).codePointAt(0)!);
  expect(keptBytes + bytes(nextChar) + bytes(marker)).toBeGreaterThan(cap);
  return { result, keptBytes, kept, markerBytes: bytes(marker) };
}

describe("output within the cap", () => {
  test.each([
    ["empty", ""],
    ["ASCII", "hello"],
    ["2-byte", "é".repeat(10)],
    ["3-byte", "€".repeat(10)],
    ["4-byte", "😀".repeat(10)],
  ])("%s output is stored as it is, with its size and hash", (_, output) => {
    const result = capOutput(output, 300);
    expect(result).toEqual({ text: output, bytes: bytes(output), truncated: false, hash: sha256(output) });
  });

  test.each([
    ["1-byte", "a"],
    ["2-byte", "ß"],
    ["3-byte", "語"],
    ["4-byte", "𝄞"],
  ])("exactly at the cap (%s characters) is not truncated", (_, char) => {
    const output = char.repeat(Math.floor(300 / bytes(char)));
    const cap = bytes(output);
    expect(capOutput(output, cap)).toMatchObject({ text: output, truncated: false, bytes: cap });
    // One byte less and it is truncated.
    expect(capOutput(output, cap - 1).truncated).toBe(true);
  });
});

describe("multi-byte UTF-8 at the cap", () => {
  test.each([
    ["2-byte", "é", 2],
    ["3-byte", "€", 3],
    ["4-byte", "😀", 4],
  ])("%s characters: every cap from the marker's size up is cut between characters", (_, char, width) => {
    expect(bytes(char)).toBe(width);
    const original = char.repeat(400);
    const markerBytes = bytes(`${MARKER_START}${bytes(original)} bytes in all]`);
    for (let cap = markerBytes; cap < bytes(original); cap++) {
      const { keptBytes } = checkTruncated(original, cap);
      // With only whole characters of `width` bytes, the kept part is the largest multiple that fits.
      expect(keptBytes).toBe(Math.floor((cap - markerBytes) / width) * width);
    }
  });

  test.each([
    ["2-byte", "ñ"],
    ["3-byte", "한"],
    ["4-byte", "🎉"],
  ])("%s: room for exactly k characters keeps k; one to width-1 bytes more still keeps k", (_, char) => {
    const width = bytes(char);
    const original = `${char.repeat(50)}tail`;
    const markerBytes = bytes(`${MARKER_START}${bytes(original)} bytes in all]`);
    for (const k of [0, 1, 7, 20]) {
      const atBoundary = markerBytes + k * width;
      expect(checkTruncated(original, atBoundary).kept).toBe(char.repeat(k));
      for (let extra = 1; extra < width; extra++) expect(checkTruncated(original, atBoundary + extra).kept).toBe(char.repeat(k));
      expect(checkTruncated(original, atBoundary + width).kept).toBe(char.repeat(k + 1));
    }
  });

  test("mixed 1-, 2-, 3- and 4-byte characters: every cap is cut between characters", () => {
    const original = "aé€😀b語ß𝄞\n".repeat(30);
    const markerBytes = bytes(`${MARKER_START}${bytes(original)} bytes in all]`);
    for (let cap = markerBytes; cap < bytes(original); cap++) checkTruncated(original, cap);
  });

  test("the original size in the marker and in `bytes` is the UTF-8 size, not the character count", () => {
    const original = "😀".repeat(1000); // 1000 code points, 2000 UTF-16 units, 4000 bytes
    const { result } = checkTruncated(original, 500);
    expect(result.bytes).toBe(4000);
    expect(result.text).toContain("[output truncated: 4000 bytes in all]");
    expect(bytes(result.text)).toBeLessThanOrEqual(500);
  });

  test("the default cap of 32768 bytes, with 3-byte characters straddling it", () => {
    const original = `ab${"語".repeat(20000)}`; // 60002 bytes
    const { result } = checkTruncated(original, 32768);
    expect(result.bytes).toBe(60002);
    expect(bytes(result.text)).toBeGreaterThan(32768 - 3);
  });

  test("the hash is of the original, so two outputs with the same kept part differ", () => {
    const a = capOutput(`${"x".repeat(1000)}A`, 300);
    const b = capOutput(`${"x".repeat(1000)}B`, 300);
    expect(a.text).toBe(b.text);
    expect(a.hash).not.toBe(b.hash);
  });
});
