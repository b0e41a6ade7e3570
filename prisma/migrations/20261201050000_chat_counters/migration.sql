-- AlterTable
ALTER TABLE "chats" ADD COLUMN     "error_count" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "running_count" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "trace_count" INTEGER NOT NULL DEFAULT 0;

-- The counters of the traces already stored.
UPDATE "chats" c
   SET "trace_count" = s.n, "running_count" = s.running, "error_count" = s.errors
  FROM (SELECT "chat_id", count(*)::int AS n,
               (count(*) FILTER (WHERE "status" = 'running'))::int AS running,
               (count(*) FILTER (WHERE "status" IN ('error', 'timeout')))::int AS errors
          FROM "tool_traces" GROUP BY "chat_id") s
 WHERE c."id" = s."chat_id";

-- Statement-level triggers keep the counters in the transaction that changes tool_traces, whatever
-- writes it (the hot write path, Prisma, a sweep): one UPDATE per chat per statement, not per row.
-- Every writer already holds the chat's row lock, so these UPDATEs add no new lock order.
CREATE FUNCTION "tool_traces_count_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "chats" c
     SET "trace_count" = c."trace_count" + d.n, "running_count" = c."running_count" + d.running, "error_count" = c."error_count" + d.errors
    FROM (SELECT "chat_id", count(*)::int AS n,
                 (count(*) FILTER (WHERE "status" = 'running'))::int AS running,
                 (count(*) FILTER (WHERE "status" IN ('error', 'timeout')))::int AS errors
            FROM inserted GROUP BY "chat_id") d
   WHERE c."id" = d."chat_id";
  RETURN NULL;
END $$;

CREATE FUNCTION "tool_traces_count_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A trace's chat never changes; only a status change moves the counters.
  UPDATE "chats" c
     SET "running_count" = c."running_count" + d.running, "error_count" = c."error_count" + d.errors
    FROM (SELECT n."chat_id",
                 sum((n."status" = 'running')::int - (o."status" = 'running')::int)::int AS running,
                 sum((n."status" IN ('error', 'timeout'))::int - (o."status" IN ('error', 'timeout'))::int)::int AS errors
            FROM updated_new n JOIN updated_old o ON o."id" = n."id"
           WHERE n."status" IS DISTINCT FROM o."status"
           GROUP BY n."chat_id") d
   WHERE c."id" = d."chat_id";
  RETURN NULL;
END $$;

CREATE FUNCTION "tool_traces_count_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A chat's own deletion cascades here after its row is gone: the UPDATE then finds nothing.
  UPDATE "chats" c
     SET "trace_count" = c."trace_count" - d.n, "running_count" = c."running_count" - d.running, "error_count" = c."error_count" - d.errors
    FROM (SELECT "chat_id", count(*)::int AS n,
                 (count(*) FILTER (WHERE "status" = 'running'))::int AS running,
                 (count(*) FILTER (WHERE "status" IN ('error', 'timeout')))::int AS errors
            FROM deleted GROUP BY "chat_id") d
   WHERE c."id" = d."chat_id";
  RETURN NULL;
END $$;

CREATE TRIGGER "tool_traces_count_inserted" AFTER INSERT ON "tool_traces"
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION "tool_traces_count_inserted"();
CREATE TRIGGER "tool_traces_count_updated" AFTER UPDATE ON "tool_traces"
  REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new FOR EACH STATEMENT EXECUTE FUNCTION "tool_traces_count_updated"();
CREATE TRIGGER "tool_traces_count_deleted" AFTER DELETE ON "tool_traces"
  REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION "tool_traces_count_deleted"();
