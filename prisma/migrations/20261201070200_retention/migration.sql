-- AlterEnum
ALTER TYPE "ChatEventKind" ADD VALUE 'traces_pruned';

-- AlterTable
ALTER TABLE "chats" ADD COLUMN     "pruned_through_seq" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "trace_prunes" (
    "id" UUID NOT NULL,
    "chat_id" UUID NOT NULL,
    "cutoff" TIMESTAMPTZ(3) NOT NULL,
    "traces" INTEGER NOT NULL,
    "steps" INTEGER NOT NULL,
    "events" INTEGER NOT NULL,
    "pruned_through_seq" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "trace_prunes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "retention_status" (
    "id" INTEGER NOT NULL,
    "last_run_at" TIMESTAMPTZ(3),
    "last_cutoff" TIMESTAMPTZ(3),
    "last_traces" INTEGER NOT NULL DEFAULT 0,
    "last_steps" INTEGER NOT NULL DEFAULT 0,
    "last_events" INTEGER NOT NULL DEFAULT 0,
    "last_chats" INTEGER NOT NULL DEFAULT 0,
    "last_batches" INTEGER NOT NULL DEFAULT 0,
    "last_duration_ms" INTEGER NOT NULL DEFAULT 0,
    "total_traces" BIGINT NOT NULL DEFAULT 0,
    "total_steps" BIGINT NOT NULL DEFAULT 0,
    "total_events" BIGINT NOT NULL DEFAULT 0,
    "total_chats" BIGINT NOT NULL DEFAULT 0,
    "runs" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "retention_status_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "trace_prunes_chat_id_created_at_idx" ON "trace_prunes"("chat_id", "created_at");

-- AddForeignKey
ALTER TABLE "trace_prunes" ADD CONSTRAINT "trace_prunes_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The report's one row: every run adds to it, whichever process runs it.
INSERT INTO "retention_status" ("id") VALUES (1);
