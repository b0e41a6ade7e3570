// Resident memory of the Tracedeck server process itself (its pid, not a wrapper), after it settles.
import { rssOf, sleep } from "./proc.js";

/** VmRSS and VmHWM (peak) in MiB after `settleMs` of idleness: start-up garbage is collected by then. */
export async function idleRss(pid: number, settleMs = 3000): Promise<{ rssMb: number; peakMb: number }> {
  await sleep(settleMs);
  return rssOf(pid);
}
