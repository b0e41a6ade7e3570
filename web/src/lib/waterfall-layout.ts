// The waterfall's flat list of items: a header per turn, then the turn's trace rows (unless the
// turn is collapsed). Rows are addressed by their index in Chat.traces (start order, under the
// filter); a turn's rows start at ChatTurn.firstIndex and run to the next turn's first index, so
// every row belongs to exactly one block even while the turns are a little behind the live rows
// (rows appended after the last known turn join the last block until the turns catch up).

export interface TurnBlockInput {
  turn: number;
  firstIndex: number;
}

export type LayoutItem =
  | { kind: "turn"; turn: number; /** position of the turn in the sorted turns */ block: number; rowStart: number; rowEnd: number; collapsed: boolean }
  | { kind: "trace"; index: number; turn: number | null };

interface Block {
  turn: number | null;
  rowStart: number;
  rowEnd: number;
  collapsed: boolean;
  /** index of the block's first item (its header, or its first row for the headerless block) */
  itemStart: number;
  /** 1 for a header, 0 for the leading headerless block */
  header: 0 | 1;
}

export interface WaterfallLayout {
  /** items in all: headers and visible rows */
  count: number;
  itemAt(item: number): LayoutItem | null;
  /** the item showing row `index`, or null when its turn is collapsed (or out of range) */
  itemOfRow(index: number): number | null;
  /** the item of a turn's header, or null when the turn is not in the list */
  itemOfTurn(turn: number): number | null;
  /** [start, end) rows of a turn */
  rowsOfTurn(turn: number): [number, number] | null;
  /** the turn a row belongs to */
  turnOfRow(index: number): number | null;
}

export function buildLayout(turns: readonly TurnBlockInput[], total: number, collapsed: ReadonlySet<number> = new Set()): WaterfallLayout {
  const sorted = [...turns].sort((a, b) => a.firstIndex - b.firstIndex || a.turn - b.turn);
  const blocks: Block[] = [];
  let item = 0;
  const first = sorted[0];
  const leading = Math.min(total, first ? first.firstIndex : total);
  if (leading > 0) {
    blocks.push({ turn: null, rowStart: 0, rowEnd: leading, collapsed: false, itemStart: 0, header: 0 });
    item = leading;
  }
  sorted.forEach((t, k) => {
    const rowStart = Math.min(Math.max(t.firstIndex, 0), total);
    const next = sorted[k + 1];
    const rowEnd = next ? Math.min(Math.max(next.firstIndex, rowStart), total) : total;
    const isCollapsed = collapsed.has(t.turn);
    blocks.push({ turn: t.turn, rowStart, rowEnd, collapsed: isCollapsed, itemStart: item, header: 1 });
    item += 1 + (isCollapsed ? 0 : rowEnd - rowStart);
  });
  const count = item;
  const byTurn = new Map<number, number>();
  blocks.forEach((b, k) => {
    if (b.turn != null) byTurn.set(b.turn, k);
  });

  const blockOfItem = (i: number): number => {
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks[mid]!.itemStart <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  // Blocks starting at the same row (turns without rows) all end where they start but the last,
  // so the last block starting at or before a row is the one holding it.
  const blockOfRow = (index: number): number => {
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks[mid]!.rowStart <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };

  return {
    count,
    itemAt(i) {
      if (i < 0 || i >= count || blocks.length === 0) return null;
      const k = blockOfItem(i);
      const b = blocks[k]!;
      if (b.header && i === b.itemStart) return { kind: "turn", turn: b.turn!, block: k, rowStart: b.rowStart, rowEnd: b.rowEnd, collapsed: b.collapsed };
      const index = b.rowStart + (i - b.itemStart - b.header);
      return { kind: "trace", index, turn: b.turn };
    },
    itemOfRow(index) {
      if (index < 0 || index >= total || blocks.length === 0) return null;
      const b = blocks[blockOfRow(index)]!;
      if (index < b.rowStart || index >= b.rowEnd || b.collapsed) return null;
      return b.itemStart + b.header + (index - b.rowStart);
    },
    itemOfTurn(turn) {
      const k = byTurn.get(turn);
      return k === undefined ? null : blocks[k]!.itemStart;
    },
    rowsOfTurn(turn) {
      const k = byTurn.get(turn);
      return k === undefined ? null : [blocks[k]!.rowStart, blocks[k]!.rowEnd];
    },
    turnOfRow(index) {
      if (index < 0 || index >= total || blocks.length === 0) return null;
      const b = blocks[blockOfRow(index)]!;
      return index >= b.rowStart && index < b.rowEnd ? b.turn : null;
    },
  };
}

/**
 * The rows a range of items shows: [first, last] row indexes (inclusive) of the trace items among
 * items from..to; last < first when there are none (only headers).
 */
export function rowsInItems(layout: WaterfallLayout, from: number, to: number): [number, number] {
  let first = Number.POSITIVE_INFINITY;
  let last = -1;
  for (let i = Math.max(0, from); i <= Math.min(to, layout.count - 1); i++) {
    const it = layout.itemAt(i);
    if (it?.kind === "trace") {
      if (it.index < first) first = it.index;
      if (it.index > last) last = it.index;
    }
  }
  return last < 0 ? [0, -1] : [first, last];
}
