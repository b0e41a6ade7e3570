/**
 * npm run agent -- --workspace DIR "prompt": a session with Tracedeck's agent on a running server,
 * printed live. See scripts/lib/agent-args.ts for the options, scripts/lib/agent-session.ts for
 * what it does through the API.
 */
import { createApi } from "./lib/api.js";
import { AGENT_HELP, parseAgentArgs, UsageError } from "./lib/agent-args.js";
import { describeError, runAgentSession, summarizeSession } from "./lib/agent-session.js";
import { createStyle, wantsColor } from "./lib/format.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").trim();
}

async function main(): Promise<number> {
  // Should the event loop ever run dry before main settles, the exit is a failure, not a silent 0.
  process.exitCode = 1;
  // Piped into `head` and so on: a closed pipe ends the CLI quietly (the server runs the turn anyway).
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  const style = createStyle(wantsColor(process.stdout));
  const errStyle = createStyle(wantsColor(process.stderr));
  let args;
  try {
    args = parseAgentArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${errStyle.red("error:")} ${error.message}\nRun \`npm run agent -- --help\` for the options.\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${AGENT_HELP}\n`);
    return 0;
  }
  if (args.prompt === "-") {
    args.prompt = await readStdin();
    if (args.prompt === "") {
      process.stderr.write(`${errStyle.red("error:")} the prompt on standard input is empty\n`);
      return 2;
    }
  }

  // Ctrl-C once: cancel the running turn (cancelTurn), then exit 130. Twice: exit at once.
  const controller = new AbortController();
  let exitSignal: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(signal === "SIGINT" ? 130 : 143);
    exitSignal = signal;
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const api = createApi(args.url);
    const result = await runAgentSession({
      api,
      prompt: args.prompt,
      workspace: args.workspace,
      chatId: args.chatId,
      provider: args.provider,
      model: args.model,
      buildCommand: args.buildCommand,
      fixAttempts: args.fixAttempts,
      out: process.stdout,
      style,
      signal: controller.signal,
    });
    process.stdout.write(`\n${summarizeSession(result, style)}\n`);
    const verdict =
      result.exitCode === 0
        ? style.green("Done.")
        : result.exitCode === 130
          ? style.yellow("Cancelled.")
          : result.buildFailing
            ? style.red("The build still fails.")
            : style.red(`The last turn ended ${result.finalStatus}.`);
    process.stdout.write(`${verdict} ${style.dim(`See it in the dashboard: ${result.chat.url}`)}\n`);
    if (result.exitCode === 130 && exitSignal === "SIGTERM") return 143;
    return result.exitCode;
  } catch (error) {
    process.stderr.write(`${errStyle.red("error:")} ${describeError(error)}\n`);
    return exitSignal ? (exitSignal === "SIGINT" ? 130 : 143) : 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
