/**
 * How the command-line tools print: colours only on a terminal (never with NO_COLOR or when the
 * output is piped), a one-line summary of each tool call's input, token counts, text indented.
 */

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const code = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;
const plain = (text: string) => text;

/** Whether to colour a stream: a TTY, NO_COLOR unset or empty (https://no-color.org), TERM not "dumb". */
export function wantsColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

export function createStyle(color: boolean): Style {
  if (!color) return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain };
  return { bold: code(1, 22), dim: code(2, 22), red: code(31, 39), green: code(32, 39), yellow: code(33, 39), cyan: code(36, 39) };
}

/** A bold label padded to the column where the values of a block of `Label  value` lines start. */
export function label(name: string, style: Style, width = 11): string {
  return style.bold(name) + " ".repeat(Math.max(1, width - name.length));
}

/** One line at most `max` characters, whitespace collapsed, an ellipsis when cut. */
export function oneLine(text: string, max = 100): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A command's arguments as a person would type them: quoted when they hold spaces or quotes. */
export function shellWords(words: readonly string[]): string {
  return words.map((w) => (w === "" || /[\s"'\\$`|&;<>(){}*?!#~]/.test(w) ? `'${w.replace(/'/g, `'\\''`)}'` : w)).join(" ");
}

const str = (value: unknown) => (typeof value === "string" ? value : undefined);
const num = (value: unknown) => (typeof value === "number" ? value : undefined);

export const groupDigits = (n: number) => n.toLocaleString("en-US");

const bytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`);

/** What a tool call was asked, in a few words: `ls -1 src`, `src/stats.mjs (612 B)`, … */
export function describeToolInput(toolName: string, input: unknown): string {
  const i = (input && typeof input === "object" ? input : {}) as Record<string, unknown>;
  switch (toolName) {
    case "run_command":
    case "build": {
      const program = str(i.program) ?? "";
      const args = Array.isArray(i.args) ? i.args.filter((a): a is string => typeof a === "string") : [];
      const cwd = str(i.cwd);
      return oneLine(`${shellWords([program, ...args])}${cwd && cwd !== "." ? ` (in ${cwd})` : ""}`, 120);
    }
    case "list_files": {
      const depth = num(i.depth);
      return `${str(i.path) ?? "."}${depth !== undefined ? ` (depth ${depth})` : ""}`;
    }
    case "read_file": {
      const from = num(i.startLine);
      const to = num(i.endLine);
      const range = from || to ? ` lines ${from ?? 1}–${to ?? "end"}` : "";
      return `${str(i.path) ?? "?"}${range}`;
    }
    case "write_file": {
      const content = str(i.content);
      return `${str(i.path) ?? "?"}${content !== undefined ? ` (${bytes(Buffer.byteLength(content))})` : ""}`;
    }
    case "edit_file": {
      const oldText = str(i.oldText);
      const newText = str(i.newText);
      const change = oldText !== undefined && newText !== undefined ? `: ${oneLine(oldText, 40)} → ${oneLine(newText, 40)}` : "";
      return `${str(i.path) ?? "?"}${change}`;
    }
    default: {
      const text = JSON.stringify(input ?? {});
      return text === "{}" ? "" : oneLine(text, 100);
    }
  }
}

export interface Tokens {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
}

export const zeroTokens = (): Tokens => ({ input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 });

export function addTokens(a: Tokens, b: Tokens): Tokens {
  return {
    input: a.input + b.input,
    output: a.output + b.output,
    cacheRead: a.cacheRead + b.cacheRead,
    cacheWrite: a.cacheWrite + b.cacheWrite,
    reasoning: a.reasoning + b.reasoning,
  };
}

/** `input 1,226 · output 551 · cache read 9,470 · cache write 1,938 · reasoning 0` */
export function formatTokens(t: Tokens): string {
  return [`input ${groupDigits(t.input)}`, `output ${groupDigits(t.output)}`, `cache read ${groupDigits(t.cacheRead)}`, `cache write ${groupDigits(t.cacheWrite)}`, `reasoning ${groupDigits(t.reasoning)}`].join(" · ");
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "";
  return ms < 10_000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Each line of `text` after `prefix`; at most `maxLines`, then a "… N more lines" line. */
export function indent(text: string, prefix: string, maxLines = Infinity): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  const shown = lines.slice(0, maxLines).map((line) => (line.trim() === "" ? prefix.trimEnd() : `${prefix}${line}`));
  if (lines.length > maxLines) shown.push(`${prefix}… ${lines.length - maxLines} more line${lines.length - maxLines === 1 ? "" : "s"}`);
  return shown.join("\n");
}

/** A title for a new chat: the prompt's first line, at most 80 characters. */
export function titleFromPrompt(prompt: string): string {
  const first = prompt.trim().split("\n")[0] ?? "";
  return oneLine(first, 80) || "Agent session";
}
