-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "TraceStatus" AS ENUM ('running', 'ok', 'error', 'timeout', 'cancelled', 'abandoned');

-- CreateEnum
CREATE TYPE "ChatEventKind" AS ENUM ('chat_created', 'chat_updated', 'trace_started', 'trace_finished', 'snapshot_saved', 'snapshot_restored', 'snapshot_deleted', 'chat_deleted');

-- CreateTable
CREATE TABLE "chats" (
    "id" UUID NOT NULL,
    "title" TEXT NOT NULL,
    "workspace" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_activity_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "current_session_id" UUID NOT NULL,
    "next_turn" INTEGER NOT NULL DEFAULT 1,
    "continued_from_turn" INTEGER,
    "event_seq" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "chats_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tool_traces" (
    "id" UUID NOT NULL,
    "chat_id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "message_id" TEXT,
    "tool_call_id" TEXT,
    "turn_number" INTEGER NOT NULL,
    "tool_name" TEXT NOT NULL,
    "tool_input" JSONB NOT NULL,
    "tool_output" TEXT,
    "output_bytes" INTEGER,
    "output_hash" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "started_at_from_client" BOOLEAN NOT NULL DEFAULT false,
    "finished_at" TIMESTAMPTZ(3),
    "latency_ms" INTEGER,
    "start_hash" TEXT NOT NULL,
    "finish_hash" TEXT,
    "status" "TraceStatus" NOT NULL DEFAULT 'running',
    "error" TEXT,
    "outcome" TEXT,
    "input_tokens" INTEGER NOT NULL DEFAULT 0,
    "output_tokens" INTEGER NOT NULL DEFAULT 0,
    "cache_read_tokens" INTEGER NOT NULL DEFAULT 0,
    "cache_write_tokens" INTEGER NOT NULL DEFAULT 0,
    "reasoning_tokens" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tool_traces_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model_steps" (
    "chat_id" UUID NOT NULL,
    "step_key" TEXT NOT NULL,
    "input_tokens" INTEGER NOT NULL DEFAULT 0,
    "output_tokens" INTEGER NOT NULL DEFAULT 0,
    "cache_read_tokens" INTEGER NOT NULL DEFAULT 0,
    "cache_write_tokens" INTEGER NOT NULL DEFAULT 0,
    "reasoning_tokens" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_steps_pkey" PRIMARY KEY ("chat_id","step_key")
);

-- CreateTable
CREATE TABLE "chat_events" (
    "chat_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "kind" "ChatEventKind" NOT NULL,
    "subject_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "chat_events_pkey" PRIMARY KEY ("chat_id","seq")
);

-- CreateTable
CREATE TABLE "agent_snapshots" (
    "chat_id" UUID NOT NULL,
    "current_revision_id" UUID NOT NULL,
    "turn" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_snapshots_pkey" PRIMARY KEY ("chat_id")
);

-- CreateTable
CREATE TABLE "agent_snapshot_revisions" (
    "id" UUID NOT NULL,
    "chat_id" UUID NOT NULL,
    "turn" INTEGER NOT NULL,
    "session_id" UUID NOT NULL,
    "state" JSONB NOT NULL,
    "state_bytes" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "superseded_at" TIMESTAMPTZ(3),
    "restored_from" INTEGER,

    CONSTRAINT "agent_snapshot_revisions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "chats_created_at_id_idx" ON "chats"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "tool_traces_chat_id_started_at_id_idx" ON "tool_traces"("chat_id", "started_at", "id");

-- CreateIndex
CREATE INDEX "tool_traces_chat_id_turn_number_idx" ON "tool_traces"("chat_id", "turn_number");

-- CreateIndex
CREATE INDEX "tool_traces_status_started_at_idx" ON "tool_traces"("status", "started_at");

-- CreateIndex
CREATE UNIQUE INDEX "tool_traces_chat_id_tool_call_id_key" ON "tool_traces"("chat_id", "tool_call_id");

-- CreateIndex
CREATE UNIQUE INDEX "agent_snapshots_current_revision_id_key" ON "agent_snapshots"("current_revision_id");

-- CreateIndex
CREATE UNIQUE INDEX "agent_snapshot_revisions_chat_id_turn_key" ON "agent_snapshot_revisions"("chat_id", "turn");

-- AddForeignKey
ALTER TABLE "tool_traces" ADD CONSTRAINT "tool_traces_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_steps" ADD CONSTRAINT "model_steps_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "chat_events" ADD CONSTRAINT "chat_events_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_snapshots" ADD CONSTRAINT "agent_snapshots_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_snapshots" ADD CONSTRAINT "agent_snapshots_current_revision_id_fkey" FOREIGN KEY ("current_revision_id") REFERENCES "agent_snapshot_revisions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_snapshot_revisions" ADD CONSTRAINT "agent_snapshot_revisions_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

