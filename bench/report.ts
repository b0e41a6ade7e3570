// The closing table (target, Tracedeck, baseline, ratio, met) and the JSON file with every figure.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./proc.js";

export interface Row {
  figure: string;
  target: string;
  tracedeck: string;
  baseline: string;
  ratio: string;
  /** true/false against a target; null where the figure is only measured and reported. */
  met: boolean | null;
}

export const fmt = (value: number | null | undefined, unit = "", digits = 1) =>
  value === null || value === undefined || !Number.isFinite(value) ? "—" : `${value.toLocaleString("en", { maximumFractionDigits: digits })}${unit}`;

export const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? null : a / b;

export function printTable(rows: Row[], write: (line: string) => void): void {
  const header: Row = { figure: "figure", target: "target", tracedeck: "Tracedeck", baseline: "baseline", ratio: "ratio", met: null };
  const cells = (row: Row) => [row.figure, row.target, row.tracedeck, row.baseline, row.ratio, row === header ? "met" : row.met === null ? "reported" : row.met ? "met" : "NOT MET"];
  const all = [header, ...rows].map(cells);
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  write(line(all[0]!));
  write(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of all.slice(1)) write(line(r));
}

/** bench/results/<date>-<db>.json (the folder is git-ignored). */
export function writeResults(kind: string, results: unknown): string {
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:]/g, "-").replace(/\..*/, "");
  const file = join(dir, `${stamp}-${kind}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}
