/** The command line of `npm run agent`: parsed and checked, with the help text. */
import { parseArgs } from "node:util";

export const DEFAULT_URL = "http://127.0.0.1:4000";

export const AGENT_HELP = `Usage: npm run agent -- --workspace DIR [options] "prompt"

Sends the prompt to Tracedeck's agent on a running server and prints what it does, live: each tool
call, what the agent says, the build, the auto-fix turns, and each turn's outcome and tokens.

Options:
  -w, --workspace DIR   The folder the agent works in (required). It must lie inside the server's
                        AGENT_WORKSPACES_ROOT. An absolute path, or one relative to the current
                        directory when it exists there; otherwise relative to the root.
      --chat ID         Continue this chat (its UUID or id) instead of starting a new one.
      --provider NAME   openai, anthropic or scripted (default: the server's).
      --model NAME      The model; for scripted, a script's name in AGENT_SCRIPTS_DIR.
      --build "CMD"     The build run after a turn that changed files, e.g. --build "make check"
                        (split on spaces); --build auto detects it (pnpm build or npm run build).
      --no-build        No build after a turn (and so no auto-fix).
      --fix-attempts N  Auto-fix turns after a failing build (0 to 20).
      --url URL         The server (default: TRACEDECK_URL, else ${DEFAULT_URL}).
  -h, --help            This help.

The prompt may also come on standard input: echo "prompt" | npm run agent -- -w DIR -

Exit code: 0 when the last turn ended ok (and its build passed), 1 on an error, a cancelled or
abandoned turn or a build still failing, 130 after Ctrl-C (which cancels the running turn).`;

export interface AgentArgs {
  help: boolean;
  url: string;
  workspace: string;
  /** Empty, or "-": read it from standard input. */
  prompt: string;
  chatId?: string;
  provider?: string;
  model?: string;
  /** undefined: keep the chat's; null: detect; []: off. */
  buildCommand?: string[] | null;
  fixAttempts?: number;
}

export class UsageError extends Error {
  override name = "UsageError";
}

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        workspace: { type: "string", short: "w" },
        chat: { type: "string" },
        provider: { type: "string" },
        model: { type: "string" },
        build: { type: "string" },
        "no-build": { type: "boolean" },
        "fix-attempts": { type: "string" },
        url: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  const { values, positionals } = parsed;
  const url = values.url ?? (env.TRACEDECK_URL?.trim() || DEFAULT_URL);
  if (values.help) return { help: true, url, workspace: values.workspace ?? "", prompt: "" };
  if (!values.workspace?.trim()) throw new UsageError("--workspace DIR is required: the folder the agent works in");
  const prompt = positionals.join(" ").trim();
  if (prompt === "") throw new UsageError('a prompt is required, e.g. npm run agent -- --workspace DIR "Add a test for parse()" (or - to read it from standard input)');

  let buildCommand: string[] | null | undefined;
  if (values["no-build"] && values.build !== undefined) throw new UsageError("--build and --no-build contradict each other");
  if (values["no-build"]) buildCommand = [];
  else if (values.build !== undefined) {
    const words = values.build.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) throw new UsageError('--build needs a command, e.g. --build "npm test"; use --no-build for none');
    buildCommand = words.length === 1 && words[0] === "auto" ? null : words;
  }

  let fixAttempts: number | undefined;
  if (values["fix-attempts"] !== undefined) {
    const text = values["fix-attempts"].trim();
    if (!/^\d+$/.test(text) || Number(text) > 20) throw new UsageError(`--fix-attempts must be a whole number from 0 to 20, not ${JSON.stringify(values["fix-attempts"])}`);
    fixAttempts = Number(text);
  }
  for (const name of ["provider", "model", "chat"] as const) {
    if (values[name] !== undefined && values[name].trim() === "") throw new UsageError(`--${name} must not be empty`);
  }
  return {
    help: false,
    url,
    workspace: values.workspace,
    prompt,
    chatId: values.chat?.trim(),
    provider: values.provider?.trim(),
    model: values.model?.trim(),
    buildCommand,
    fixAttempts,
  };
}
