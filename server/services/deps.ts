import type { Limits } from "../config.js";
import type { PrismaClient } from "../db/generated/prisma/client.js";
import type { EventBus } from "../events/pubsub.js";
import type { Logger } from "../logger.js";

/** What every service needs; built once per process (and per test). */
export interface ServiceDeps {
  prisma: PrismaClient;
  bus: EventBus;
  limits: Limits;
  log: Logger;
}
