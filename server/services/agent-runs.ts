import { hostname } from "node:os";
import { processAlive } from "../db/data-dir-lock.js";
import type { ServiceDeps } from "./deps.js";

/**
 * The server processes that run agents. Each registers a run id at start and beats every so
 * often; a run is gone when its process on this machine has exited, or when it stopped beating.
 * Gone runs' running turns and traces are abandoned (agent-turns.abandonRuns), then forgotten.
 */
export function createAgentRunService(deps: ServiceDeps) {
  const { prisma } = deps;
  const host = hostname();
  return {
    async register(runId: string): Promise<void> {
      await prisma.$executeRaw`INSERT INTO agent_runs (id, hostname, pid, started_at, heartbeat_at) VALUES (${runId}::uuid, ${host}, ${process.pid}, now(), now())`;
    },

    /** The database's clock, not this machine's: processes on several machines compare the same one. */
    async heartbeat(runId: string): Promise<void> {
      await prisma.$executeRaw`
        INSERT INTO agent_runs (id, hostname, pid, started_at, heartbeat_at) VALUES (${runId}::uuid, ${host}, ${process.pid}, now(), now())
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`;
    },

    /**
     * Runs other than `self` that are gone: exited on this machine, or silent for staleMs. A run of
     * this very pid that is not `self` is an earlier life of it (a restarted container's server
     * often gets the same pid back).
     */
    async goneRuns(self: string, staleMs: number): Promise<string[]> {
      const runs = await prisma.$queryRaw<{ id: string; hostname: string; pid: number; silent: boolean }[]>`
        SELECT id::text, hostname, pid, heartbeat_at < now() - make_interval(secs => ${staleMs / 1000}) AS silent
          FROM agent_runs WHERE id <> ${self}::uuid`;
      return runs.filter((run) => (run.hostname === host && (run.pid === process.pid || !processAlive(run.pid))) || run.silent).map((run) => run.id);
    },

    /** Owners of running turns and traces that no registered run claims (their row was never written or is gone). */
    async unclaimedOwners(self: string): Promise<string[]> {
      const rows = await prisma.$queryRaw<{ owner: string }[]>`
        SELECT DISTINCT owner_run_id::text AS owner FROM agent_turns WHERE status = 'running'
        UNION
        SELECT DISTINCT owner_run_id::text FROM tool_traces WHERE status = 'running' AND owner_run_id IS NOT NULL`;
      const owners = rows.map((r) => r.owner).filter((owner) => owner !== self);
      if (owners.length === 0) return [];
      const known = await prisma.agentRun.findMany({ where: { id: { in: owners } }, select: { id: true } });
      const claimed = new Set(known.map((r) => r.id));
      return owners.filter((owner) => !claimed.has(owner));
    },

    async forget(runIds: readonly string[]): Promise<void> {
      if (runIds.length) await prisma.agentRun.deleteMany({ where: { id: { in: [...runIds] } } });
    },
  };
}

export type AgentRunService = ReturnType<typeof createAgentRunService>;
