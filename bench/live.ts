// Live delivery: a child process holds N graphql-ws subscribers on one chat; the driver sends
// startToolTrace one at a time and notes when each answer arrived. Latency of a frame = its arrival
// at a subscriber − the arrival of its mutation's answer at the driver, on the shared clock.
import { createChat, gqlData, START } from "./gql.js";
import { spawnChild, sleep } from "./proc.js";
import { percentile, round, sharedNow } from "./stats.js";

export interface LiveResult {
  subscribers: number;
  connected: number;
  mutations: number;
  frames: number;
  missingFrames: number;
  frameP50Ms: number | null;
  frameP99Ms: number | null;
  frameMaxMs: number | null;
  /** The baseline: the mutation's own HTTP round trip. */
  roundTripP50Ms: number | null;
  roundTripP99Ms: number | null;
  subscribeErrors: number;
  firstError?: string;
}

type FromChild = { type: string; connected?: number; errors?: number; firstError?: string; subscribersWithFrames?: number; arrivals?: Record<string, number[]> };

export async function measureLive(options: { httpUrl: string; subscribers: number; mutations: number; spacingMs: number; log: (line: string) => void }): Promise<LiveResult> {
  const chat = await createChat(`${options.httpUrl}/graphql`, `bench live ${options.subscribers}`);
  const wsUrl = `${options.httpUrl.replace(/^http/, "ws")}/graphql`;
  const child = spawnChild(["--import", "tsx", "bench/subscribers.ts", wsUrl, chat.uuid, String(options.subscribers)], {}, { ipc: true, label: "subscribers" });
  const inbox: FromChild[] = [];
  const waiters: (() => void)[] = [];
  child.proc.on("message", (message: FromChild) => {
    inbox.push(message);
    waiters.splice(0).forEach((wake) => wake());
  });
  const receive = async (type: string, timeoutMs = 120_000): Promise<FromChild> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const index = inbox.findIndex((m) => m.type === type);
      if (index >= 0) return inbox.splice(index, 1)[0]!;
      if (child.proc.exitCode !== null) throw new Error("the subscribers' process exited");
      if (performance.now() > deadline) throw new Error(`no ${type} from the subscribers' process in ${timeoutMs} ms`);
      await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), sleep(200)]);
    }
  };
  const ask = (type: string, extra: object = {}) => child.proc.send({ type, ...extra });
  const start = async (toolName: string) => {
    const sent = sharedNow();
    const data = await gqlData<{ startToolTrace: { __typename: string; message?: string } }>(`${options.httpUrl}/graphql`, START, {
      input: { chatId: chat.uuid, toolName },
    });
    const answered = sharedNow();
    if (data.startToolTrace.__typename !== "ToolTrace") throw new Error(`startToolTrace: ${data.startToolTrace.__typename} ${data.startToolTrace.message ?? ""}`);
    return { sent, answered };
  };

  try {
    const hello = await receive("connected");
    options.log(`    ${hello.connected}/${options.subscribers} subscribers connected${hello.errors ? `, ${hello.errors} errors (${hello.firstError})` : ""}`);
    if (!hello.connected) throw new Error(`no subscriber connected to ${wsUrl}: ${hello.firstError ?? "no error given"}`);
    // A subscription is live once the server has processed its subscribe message, which the
    // protocol does not acknowledge: send warm-up starts until every subscriber has had a frame.
    let ready = 0;
    for (let i = 0; i < 100; i++) {
      await start(`warmup-${i}`);
      await sleep(50);
      ask("stats");
      ready = (await receive("stats")).subscribersWithFrames ?? 0;
      if (ready >= (hello.connected ?? 0)) break;
    }
    if (ready === 0) throw new Error("no subscriber received a frame of the warm-up starts");
    options.log(`    ${ready} subscribers receiving; sending ${options.mutations} starts ${options.spacingMs} ms apart`);
    const answeredAt = new Map<string, number>();
    const roundTrips: number[] = [];
    for (let i = 0; i < options.mutations; i++) {
      const name = `live-${i}`;
      const { sent, answered } = await start(name);
      answeredAt.set(name, answered);
      roundTrips.push(answered - sent);
      await sleep(options.spacingMs);
    }
    await sleep(Math.max(500, options.subscribers)); // frames still in flight
    ask("collect", { names: [...answeredAt.keys()] });
    const { arrivals = {} } = await receive("arrivals");
    const latencies: number[] = [];
    for (const [name, answered] of answeredAt) for (const at of arrivals[name] ?? []) latencies.push(at - answered);
    ask("stats");
    const stats = await receive("stats");
    return {
      subscribers: options.subscribers,
      connected: hello.connected ?? 0,
      mutations: options.mutations,
      frames: latencies.length,
      missingFrames: options.mutations * (hello.connected ?? 0) - latencies.length,
      frameP50Ms: round(percentile(latencies, 0.5), 2),
      frameP99Ms: round(percentile(latencies, 0.99), 2),
      frameMaxMs: round(latencies.reduce((a, b) => Math.max(a, b), Number.NaN), 2),
      roundTripP50Ms: round(percentile(roundTrips, 0.5), 2),
      roundTripP99Ms: round(percentile(roundTrips, 0.99), 2),
      subscribeErrors: stats.errors ?? 0,
      ...(stats.firstError ? { firstError: stats.firstError } : {}),
    };
  } finally {
    if (child.proc.connected) ask("close");
    await child.stop(5_000);
  }
}
