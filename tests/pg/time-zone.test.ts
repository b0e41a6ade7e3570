// PostgreSQL with a database TimeZone other than UTC (a DBA's setting): instants come back as
// stored, from the one-statement write path and from Prisma's reads alike. In Europe/Amsterdam 1900
// was UTC+00:19:32, an offset JavaScript cannot read; the server's connections use UTC.
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { createServiceHarness, type ServiceHarness } from "../helpers/services.js";

let db: TestDatabase;
let h: ServiceHarness;
beforeAll(async () => {
  db = await createTestDatabase();
  const admin = new pg.Client({ connectionString: db.location });
  await admin.connect();
  await admin.query(`ALTER DATABASE "${new URL(db.location).pathname.slice(1)}" SET timezone = 'Europe/Amsterdam'`);
  // A connection that does not ask for UTC gets the database's zone.
  const plain = new pg.Client({ connectionString: db.location });
  await plain.connect();
  expect((await plain.query("SHOW TimeZone")).rows[0].TimeZone).toBe("Europe/Amsterdam");
  await plain.end();
  await admin.end();
  h = createServiceHarness(db);
});
afterAll(async () => {
  h?.published.stop();
  await db?.destroy();
});

test("a start, its finish and a recorded trace in 1900 come back with the instants stored", async () => {
  const chat = await h.services.chats.create({ title: "Amsterdam, 1900" });
  const started = await h.services.traces.start({ chatId: chat.id, toolName: "old", startedAt: new Date("1900-01-01T00:00:00.000Z") });
  expect(started.startedAt.toISOString()).toBe("1900-01-01T00:00:00.000Z");
  const finished = await h.services.traces.finish({ traceId: started.id, latencyMs: 5 });
  expect(finished.finishedAt?.toISOString()).toBe("1900-01-01T00:00:00.005Z");
  const recorded = await h.services.traces.record({ chatId: chat.id, toolName: "old too", startedAt: new Date("1900-06-01T12:00:00.250Z"), output: "x" });
  for (const trace of [finished, recorded]) expect(trace).toEqual(await db.prisma.toolTrace.findUniqueOrThrow({ where: { id: trace.id } }));
});
