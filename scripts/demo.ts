/**
 * npm run demo: Tracedeck and its agent at work, with nothing to set up and nothing from the network.
 *
 * Starts a server of its own (embedded PGlite, a fresh data folder, the scripted model, no API
 * keys), copies the sample project (demo/workspace) into its workspaces root, prints the chat's
 * dashboard URL, and plays the scripted session "demo" through the API, the way `npm run agent`
 * does: real files written, real commands run, the real build fails, auto-fix hands the errors to
 * the next turn, which repairs them, and the build passes. The server then keeps running until
 * Ctrl-C so the session can be browsed.
 *
 *   --port N      the server's port (default 4100; 0: any free one; a busy port falls back to a free one)
 *   --no-wait     start the session at once instead of giving a few seconds to open the dashboard
 *   --once        stop the server after the session and exit: 0 on success (CI)
 *   --keep-data   keep the data folder at the end and print its path
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { detectSandbox } from "../server/agent/sandbox.js";
import { createApi } from "./lib/api.js";
import { describeError, runAgentSession, summarizeSession, type SessionResult } from "./lib/agent-session.js";
import {
  DATA_KEPT_PREFIX,
  DEFAULT_DEMO_PORT,
  DEMO_PROMPT,
  DEMO_SCRIPT,
  REPO_ROOT,
  changedFiles,
  demoServerEnv,
  makeDataDir,
  portIsFree,
  prepareWorkspace,
  startDemoServer,
  type DemoServer,
} from "./lib/demo-server.js";
import { createStyle, label, wantsColor } from "./lib/format.js";

const HELP = `Usage: npm run demo [-- options]

Starts Tracedeck on a fresh embedded database with a scripted model (no API keys, no network) and
plays a short agent session on a copy of a sample project: files are written, commands run, the build
fails, auto-fix hands the errors back, the next turn repairs them and the build passes. Watch it in
the dashboard; the server keeps running until Ctrl-C.

Options:
  --port N      The server's port (default ${DEFAULT_DEMO_PORT}; 0 for any free port). A busy port falls back to a free one.
  --no-wait     Start the session at once (normally it waits a few seconds so you can open the dashboard).
  --once        Stop the server after the session and exit: 0 when the session succeeded (for CI).
  --keep-data   Keep the data folder (database, workspace, server.log) at the end and print its path.
  -h, --help    This help.`;

const WAIT_SECONDS = 5;

const style = createStyle(wantsColor(process.stdout));
const say = (line = "") => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function parse() {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      options: {
        port: { type: "string" },
        once: { type: "boolean" },
        "keep-data": { type: "boolean" },
        "no-wait": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    const portText = values.port?.trim() ?? String(DEFAULT_DEMO_PORT);
    if (!/^\d+$/.test(portText) || Number(portText) > 65535) throw new Error(`--port must be a port number from 0 to 65535, not ${JSON.stringify(values.port)}`);
    return { port: Number(portText), once: !!values.once, keepData: !!values["keep-data"], wait: !values["no-wait"], help: !!values.help };
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\nRun \`npm run demo -- --help\` for the options.\n`);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  // Should the event loop ever run dry before main settles, the exit is a failure, not a silent 0.
  process.exitCode = 1;
  const options = parse();
  if (options.help) {
    say(HELP);
    return 0;
  }

  let server: DemoServer | undefined;
  let dataDir: string | undefined;
  let session: AbortController | undefined;
  let stopping = false;
  let interrupted = false;
  /** Resolves on Ctrl-C (or SIGTERM) once the session is over: the end of browsing. */
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));

  const cleanUp = async () => {
    if (server && !server.hasExited()) {
      say(style.dim("Stopping the server…"));
      await server.stop();
    }
    if (dataDir) {
      if (options.keepData) say(`${DATA_KEPT_PREFIX}${dataDir}`);
      else rmSync(dataDir, { recursive: true, force: true });
    }
  };
  /** Ends the session (cancelling its turn) or, after it, the browsing; then the server stops. */
  const stopSoon = () => {
    interrupted = true;
    if (session && !session.signal.aborted) session.abort();
    else if (!stopping) {
      stopping = true;
      release();
    }
  };
  let signals = 0;
  const onSignal = () => {
    signals += 1;
    if (signals === 1) return stopSoon();
    // A second Ctrl-C: no more waiting.
    server?.kill();
    if (dataDir && !options.keepData) rmSync(dataDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Output piped into something that went away (`| head`): stop as on Ctrl-C, quietly.
  const onOutputError = (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    stopSoon();
  };
  process.stdout.on("error", onOutputError);
  process.stderr.on("error", onOutputError);
  // Last resort, whatever ends this process: its server (its own process group) does not outlive it.
  process.once("exit", () => server?.kill());

  try {
    say(style.bold("Tracedeck demo"));

    // The sandbox: bubblewrap when it works here, else unconfined on the sample's copy (said so).
    const sandbox = await detectSandbox("auto");
    const sandboxMode = sandbox.kind === "bwrap" ? "auto" : "off";
    dataDir = makeDataDir();
    const { root, workspace } = prepareWorkspace(dataDir);
    say(`${label("Data", style)}${dataDir}${options.keepData ? "" : style.dim(" (removed when the demo stops; --keep-data keeps it)")}`);
    say(`${label("Workspace", style)}${workspace} ${style.dim("(a fresh copy of demo/workspace)")}`);
    if (sandbox.kind === "bwrap") {
      say(`${label("Sandbox", style)}${style.green("bubblewrap")} ${style.dim("(commands see only the workspace, with no network)")}`);
    } else {
      say(`${label("Sandbox", style)}${style.yellow("off")}`);
      say(
        style.yellow(
          `Note: bubblewrap (bwrap) is not usable here (${sandbox.kind === "unavailable" ? sandbox.reason : sandbox.kind}), so the demo runs with AGENT_SANDBOX=off:\n` +
            `the agent's commands (ls, npm run build) run unconfined, as you, on the copy of the sample workspace above.\n` +
            `Install bubblewrap (apt-get install bubblewrap) to run them sandboxed.`,
        ),
      );
    }

    // The dashboard, built once if it is missing or stale (not needed with --once: nobody looks).
    if (!options.once) {
      const built = spawnSync(process.execPath, [path.join(REPO_ROOT, "scripts", "ensure-dashboard.mjs")], { cwd: REPO_ROOT, stdio: ["ignore", "inherit", "inherit"] });
      if (built.status !== 0) say(style.yellow("The dashboard could not be built; the API still works."));
    }

    let port = options.port;
    if (port !== 0 && !(await portIsFree(port))) {
      say(style.yellow(`Port ${port} is busy; using a free one instead.`));
      port = 0;
    }
    say(style.dim("Starting the server (embedded PGlite, scripted model, no API keys)…"));
    server = await startDemoServer(demoServerEnv(process.env, { dataDir, port, workspacesRoot: root, sandbox: sandboxMode }), dataDir);
    say(`${label("Server", style)}${style.cyan(server.url)} ${style.dim(`(log: ${server.logFile})`)}`);
    if (interrupted) return 130;

    // The session, through the API: the same code as `npm run agent`.
    session = new AbortController();
    if (interrupted) session.abort();
    let result: SessionResult;
    try {
      result = await runAgentSession({
        api: createApi(server.url),
        prompt: DEMO_PROMPT,
        workspace,
        provider: "scripted",
        model: DEMO_SCRIPT,
        buildCommand: null,
        out: process.stdout,
        style,
        fullHeader: false,
        signal: session.signal,
        beforeSend: async (chat) => {
          say();
          say(`${style.bold("Watch it live:")} ${style.cyan(chat.url)}`);
          if (options.wait && !interrupted) {
            say(style.dim(`Starting in ${WAIT_SECONDS} seconds, so you can open it (--no-wait skips this)…`));
            await Promise.race([sleep(WAIT_SECONDS * 1000), new Promise((resolve) => session!.signal.addEventListener("abort", resolve, { once: true }))]);
          }
        },
      });
    } finally {
      session = undefined;
    }

    if (interrupted && result.turns.length === 0) {
      say(style.yellow("Stopped before the session ran."));
      return 130;
    }
    const files = changedFiles(workspace);
    say();
    say(style.bold("Summary"));
    say(summarizeSession(result, style));
    say(`${label("Files", style)}${files.join(", ") || "none changed"} ${style.dim(`in ${workspace}`)}`);
    say(`${label("Chat", style)}${style.cyan(result.chat.url)}`);
    const ok = result.exitCode === 0 && result.buildPassed;
    say(
      ok
        ? style.green("The demo session ran as scripted: the build failed, auto-fix repaired it, the build passes.")
        : interrupted
          ? style.yellow("The demo session was interrupted.")
          : style.red(`The demo session did not succeed (last turn ${result.finalStatus}).`),
    );
    const code = interrupted ? 130 : ok ? 0 : 1;
    if (options.once || interrupted) return code;

    say();
    say(`The server keeps running so you can look around: ${style.cyan(server.url)}`);
    say(style.dim("Press Ctrl-C to stop it."));
    if (!stopping) await released;
    return code;
  } catch (error) {
    process.stderr.write(`${style.red("error:")} ${describeError(error)}\n`);
    if (server) process.stderr.write(style.dim(`The server's last log lines:\n${server.tail(15)}\n`));
    return interrupted ? 130 : 1;
  } finally {
    stopping = true;
    await cleanUp();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
