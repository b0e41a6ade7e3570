import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { capOutputText, cutNote, DEFAULT_OUTPUT_CAP_BYTES, MIN_OUTPUT_CAP_BYTES, OutputCap } from "../../server/agent/output-cap.js";

const strict = new TextDecoder("utf-8", { fatal: true });
const bytes = (s: string) => Buffer.byteLength(s, "utf8");
const NOTE = /\n… \[([\d,]+) bytes cut\] …\n/;

/**
 * Everything a capped text must satisfy, for valid UTF-8 input: within the cap; whole when it
 * fits; else a head that is a prefix and a tail that is a suffix of the original, each cut between
 * characters and as long as the halves allow (a character straddling a cut is dropped whole, so at
 * most 3 bytes short), around a note whose count makes the sizes add up.
 */
function check(original: string, cap: number, capped: string) {
  const total = bytes(original);
  expect(bytes(capped)).toBeLessThanOrEqual(cap);
  if (total <= cap) {
    expect(capped).toBe(original);
    return { head: original, tail: "", cut: 0 };
  }
  const match = NOTE.exec(capped);
  expect(match).not.toBeNull();
  const head = capped.slice(0, match!.index);
  const tail = capped.slice(match!.index + match![0].length);
  const cut = Number(match![1]!.replaceAll(",", ""));
  expect(match![0]).toBe(cutNote(cut));
  expect(bytes(head) + cut + bytes(tail)).toBe(total);
  expect(original.startsWith(head)).toBe(true);
  expect(original.endsWith(tail)).toBe(true);
  // Cut between characters: the original's bytes at both cuts decode strictly to what was kept.
  const raw = Buffer.from(original, "utf8");
  expect(strict.decode(raw.subarray(0, bytes(head)))).toBe(head);
  expect(strict.decode(raw.subarray(total - bytes(tail)))).toBe(tail);
  expect(capped.isWellFormed()).toBe(true);
  // The halves: what the note's reserve leaves, split in two; a straddling character costs < 4 bytes.
  const reserve = bytes(cutNote(Number.MAX_SAFE_INTEGER));
  const headLimit = Math.floor((cap - reserve) / 2);
  const tailLimit = cap - reserve - headLimit;
  expect(bytes(head)).toBeLessThanOrEqual(headLimit);
  expect(bytes(head)).toBeGreaterThan(headLimit - 4);
  expect(bytes(tail)).toBeLessThanOrEqual(tailLimit);
  expect(bytes(tail)).toBeGreaterThan(tailLimit - 4);
  return { head, tail, cut };
}

describe("the cap's boundaries", () => {
  test("output that fits, up to exactly the cap, is kept whole; one byte more is cut", () => {
    const cap = 200;
    for (const size of [0, 1, 199, 200]) {
      const original = "x".repeat(size);
      expect(capOutputText(original, cap)).toBe(original);
    }
    const over = `${"a".repeat(100)}${"b".repeat(101)}`; // 201 bytes
    const capped = capOutputText(over, cap);
    const { head, tail, cut } = check(over, cap, capped);
    expect(head).toBe("a".repeat(head.length));
    expect(tail).toBe("b".repeat(tail.length));
    expect(cut).toBe(201 - head.length - tail.length);
  });

  test("the default cap is 32 KB and the note names the bytes cut, grouped by thousands", () => {
    const cap = new OutputCap();
    expect(cap.capBytes).toBe(DEFAULT_OUTPUT_CAP_BYTES);
    expect(DEFAULT_OUTPUT_CAP_BYTES).toBe(32_768);
    const original = `${"h".repeat(20_000)}${"t".repeat(25_000)}`;
    cap.push(original);
    expect(cap.truncated).toBe(true);
    expect(cap.bytes).toBe(45_000);
    const { head, tail, cut } = check(original, 32_768, cap.text());
    expect(head).toMatch(/^h+$/);
    expect(tail).toMatch(/^t+$/);
    expect(cap.text()).toContain(`… [${cut.toLocaleString("en-US")} bytes cut] …`);
    expect(cutNote(12_345)).toBe("\n… [12,345 bytes cut] …\n");
    expect(cutNote(1_234_567)).toBe("\n… [1,234,567 bytes cut] …\n");
    expect(cutNote(999)).toBe("\n… [999 bytes cut] …\n");
  });

  test("a cap too small for the note and a little of each end is refused", () => {
    expect(() => new OutputCap(MIN_OUTPUT_CAP_BYTES - 1)).toThrow(RangeError);
    expect(() => new OutputCap(0)).toThrow(RangeError);
    expect(() => new OutputCap(1.5 * MIN_OUTPUT_CAP_BYTES)).toThrow(RangeError);
    const smallest = new OutputCap(MIN_OUTPUT_CAP_BYTES);
    smallest.push("z".repeat(10_000));
    check("z".repeat(10_000), MIN_OUTPUT_CAP_BYTES, smallest.text());
  });

  test("the text can be taken while output still arrives", () => {
    const cap = new OutputCap(100);
    cap.push("abc");
    expect(cap.text()).toBe("abc");
    cap.push("d".repeat(200));
    check(`abc${"d".repeat(200)}`, 100, cap.text());
    cap.push("END");
    expect(cap.text().endsWith("dEND")).toBe(true);
    check(`abc${"d".repeat(200)}END`, 100, cap.text());
  });
});

describe("multi-byte characters at the cuts", () => {
  test.each([
    ["2-byte", "é"],
    ["3-byte", "€"],
    ["4-byte", "😀"],
  ])("%s characters: every alignment of both cuts keeps whole characters", (_, char) => {
    for (const cap of [100, 101, 102, 103, 257]) {
      for (let headPad = 0; headPad < 4; headPad++) {
        for (let tailPad = 0; tailPad < 4; tailPad++) {
          const original = `${"a".repeat(headPad)}${char.repeat(300)}${"z".repeat(tailPad)}`;
          const capped = capOutputText(original, cap);
          expect(capped).not.toContain("\uFFFD");
          check(original, cap, capped);
        }
      }
    }
  });

  test("a character split across two pushes is whole in the output", () => {
    const original = `${"€".repeat(100)}😀${"é".repeat(100)}`;
    const raw = Buffer.from(original, "utf8");
    const cap = new OutputCap(120);
    for (let i = 0; i < raw.length; i++) cap.push(raw.subarray(i, i + 1));
    check(original, 120, cap.text());
  });

  test("bytes that are not UTF-8 do not break it", () => {
    const cap = new OutputCap(100);
    cap.push(Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37) % 256)));
    const text = cap.text();
    expect(text).toMatch(NOTE);
    expect(cap.bytes).toBe(1000);
  });
});

describe("chunks of any size", () => {
  test("any split of the output, even inside characters, gives the same text as one push", () => {
    const unit = fc.constantFrom("a", "é", "€", "😀", "\n", "語");
    fc.assert(
      fc.property(
        fc.array(unit, { maxLength: 3000 }).map((chars) => chars.join("")),
        fc.integer({ min: MIN_OUTPUT_CAP_BYTES, max: 600 }),
        fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 40 }),
        (original, capBytes, cuts) => {
          const raw = Buffer.from(original, "utf8");
          const points = [...new Set(cuts.map((c) => Math.min(c * 13, raw.length)))].sort((a, b) => a - b);
          const cap = new OutputCap(capBytes);
          let from = 0;
          for (const point of [...points, raw.length]) {
            cap.push(raw.subarray(from, point));
            from = point;
          }
          expect(cap.bytes).toBe(raw.length);
          expect(cap.text()).toBe(capOutputText(original, capBytes));
          check(original, capBytes, cap.text());
        },
      ),
      { numRuns: 300 },
    );
  });

  test("megabytes in small and large chunks keep only the ends", () => {
    const cap = new OutputCap(1000);
    cap.push("START");
    for (let i = 0; i < 2000; i++) cap.push("x".repeat(i % 7 === 0 ? 5000 : 13));
    cap.push("x".repeat(2_000_000));
    cap.push("END");
    const text = cap.text();
    expect(text.startsWith("STARTxxx")).toBe(true);
    expect(text.endsWith("xxxEND")).toBe(true);
    expect(bytes(text)).toBeLessThanOrEqual(1000);
    expect(Number(NOTE.exec(text)![1]!.replaceAll(",", ""))).toBe(cap.bytes - (bytes(text) - bytes(NOTE.exec(text)![0])));
  });
});
