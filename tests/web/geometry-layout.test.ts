import { describe, expect, it } from "vitest";
import { buildLayout, rowsInItems } from "../../web/src/lib/waterfall-layout";

// Turn 1: rows 0–2, turn 2: no traces (a snapshot only), turn 3: rows 3–6, turn 4: rows 7–9.
const turns = [
  { turn: 3, firstIndex: 3 },
  { turn: 1, firstIndex: 0 },
  { turn: 2, firstIndex: 3 },
  { turn: 4, firstIndex: 7 },
];

describe("buildLayout", () => {
  it("puts a header before each turn's rows, in firstIndex order", () => {
    const layout = buildLayout(turns, 10);
    expect(layout.count).toBe(14);
    const items = Array.from({ length: layout.count }, (_, i) => layout.itemAt(i));
    expect(items.map((it) => (it!.kind === "turn" ? `T${it!.turn}` : `${it!.index}`))).toEqual([
      "T1", "0", "1", "2", "T2", "T3", "3", "4", "5", "6", "T4", "7", "8", "9",
    ]);
    expect(layout.itemAt(14)).toBeNull();
    expect(layout.itemAt(-1)).toBeNull();
  });

  it("maps rows and turns to items and back", () => {
    const layout = buildLayout(turns, 10);
    expect(layout.itemOfRow(0)).toBe(1);
    expect(layout.itemOfRow(3)).toBe(6);
    expect(layout.itemOfRow(9)).toBe(13);
    expect(layout.itemOfRow(10)).toBeNull();
    expect(layout.itemOfTurn(2)).toBe(4);
    expect(layout.itemOfTurn(3)).toBe(5);
    expect(layout.itemOfTurn(99)).toBeNull();
    expect(layout.rowsOfTurn(3)).toEqual([3, 7]);
    expect(layout.rowsOfTurn(2)).toEqual([3, 3]);
    expect(layout.turnOfRow(3)).toBe(3);
    expect(layout.turnOfRow(2)).toBe(1);
    expect(layout.turnOfRow(9)).toBe(4);
    const header = layout.itemAt(5);
    expect(header).toEqual({ kind: "turn", turn: 3, block: 2, rowStart: 3, rowEnd: 7, collapsed: false });
  });

  it("hides a collapsed turn's rows but keeps its header", () => {
    const layout = buildLayout(turns, 10, new Set([3]));
    expect(layout.count).toBe(10);
    expect(layout.itemOfRow(4)).toBeNull();
    expect(layout.itemOfTurn(4)).toBe(6);
    expect(layout.itemAt(6)).toMatchObject({ kind: "turn", turn: 4 });
    expect(layout.itemAt(7)).toEqual({ kind: "trace", index: 7, turn: 4 });
    expect(layout.itemAt(5)).toMatchObject({ kind: "turn", turn: 3, collapsed: true });
  });

  it("gives rows appended after the last known turn to that turn", () => {
    const layout = buildLayout(turns, 12);
    expect(layout.turnOfRow(11)).toBe(4);
    expect(layout.itemOfRow(11)).toBe(15);
  });

  it("shows rows before the first turn without a header", () => {
    const layout = buildLayout([{ turn: 5, firstIndex: 2 }], 4);
    expect(layout.itemAt(0)).toEqual({ kind: "trace", index: 0, turn: null });
    expect(layout.itemAt(2)).toMatchObject({ kind: "turn", turn: 5 });
    expect(layout.count).toBe(5);
  });

  it("handles 100,000 rows in 1,000 turns", () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ turn: i + 1, firstIndex: i * 100 }));
    const layout = buildLayout(many, 100_000);
    expect(layout.count).toBe(101_000);
    expect(layout.itemAt(101_000 - 1)).toEqual({ kind: "trace", index: 99_999, turn: 1000 });
    expect(layout.itemOfRow(50_050)).toBe(50_050 + 501);
    expect(layout.itemOfTurn(501)).toBe(50_000 + 500);
  });

  it("lists the rows in a range of items", () => {
    const layout = buildLayout(turns, 10);
    expect(rowsInItems(layout, 3, 7)).toEqual([2, 4]);
    expect(rowsInItems(layout, 4, 5)).toEqual([0, -1]);
  });
});
