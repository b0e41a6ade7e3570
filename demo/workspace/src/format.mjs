import { slugify, titleCase } from "./strings.mjs";

/**
 * A Markdown link to a heading of the same page.
 * @example headingLink("getting started") // => "[Getting Started](#getting-started)"
 */
export function headingLink(heading) {
  return `[${titleCase(heading)}](#${slugify(heading)})`;
}

/**
 * A byte count in readable units (1024-based, one decimal above bytes).
 * @example formatBytes(512) // => "512 B"
 * @example formatBytes(1536) // => "1.5 KB"
 * @example formatBytes(5 * 1024 * 1024) // => "5.0 MB"
 */
export function formatBytes(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
