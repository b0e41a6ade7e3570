-- CreateEnum
CREATE TYPE "AgentTurnStatus" AS ENUM ('running', 'ok', 'error', 'cancelled', 'abandoned');

-- CreateEnum
CREATE TYPE "AgentMessageKind" AS ENUM ('assistant', 'error');

-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "ChatEventKind" ADD VALUE 'turn_started';
ALTER TYPE "ChatEventKind" ADD VALUE 'turn_finished';
ALTER TYPE "ChatEventKind" ADD VALUE 'assistant_message';
ALTER TYPE "ChatEventKind" ADD VALUE 'agent_error';

-- AlterTable
ALTER TABLE "tool_traces" ADD COLUMN     "owner_run_id" UUID;

-- CreateTable
CREATE TABLE "agent_runs" (
    "id" UUID NOT NULL,
    "hostname" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agent_settings" (
    "chat_id" UUID NOT NULL,
    "provider" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "workspace" TEXT NOT NULL,
    "build_command" JSONB,
    "fix_attempts" INTEGER NOT NULL DEFAULT 3,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_settings_pkey" PRIMARY KEY ("chat_id")
);

-- CreateTable
CREATE TABLE "agent_turns" (
    "id" UUID NOT NULL,
    "chat_id" UUID NOT NULL,
    "turn_number" INTEGER NOT NULL,
    "trigger" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "status" "AgentTurnStatus" NOT NULL DEFAULT 'running',
    "outcome" TEXT,
    "error" TEXT,
    "fix_attempt" INTEGER,
    "fix_follows" BOOLEAN NOT NULL DEFAULT false,
    "steps" INTEGER NOT NULL DEFAULT 0,
    "input_tokens" INTEGER NOT NULL DEFAULT 0,
    "output_tokens" INTEGER NOT NULL DEFAULT 0,
    "cache_read_tokens" INTEGER NOT NULL DEFAULT 0,
    "cache_write_tokens" INTEGER NOT NULL DEFAULT 0,
    "reasoning_tokens" INTEGER NOT NULL DEFAULT 0,
    "provider" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "owner_run_id" UUID NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "agent_turns_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agent_messages" (
    "id" UUID NOT NULL,
    "chat_id" UUID NOT NULL,
    "turn_number" INTEGER NOT NULL,
    "kind" "AgentMessageKind" NOT NULL,
    "text" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_messages_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agent_file_journal" (
    "chat_id" UUID NOT NULL,
    "turn_number" INTEGER NOT NULL,
    "workspace" TEXT NOT NULL DEFAULT '',
    "path" TEXT NOT NULL,
    "existed" BOOLEAN NOT NULL,
    "content" BYTEA,
    "too_large" BOOLEAN NOT NULL DEFAULT false,
    "mode" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_file_journal_pkey" PRIMARY KEY ("chat_id","turn_number","path")
);

-- CreateIndex
CREATE INDEX "agent_turns_status_idx" ON "agent_turns"("status");

-- CreateIndex
CREATE UNIQUE INDEX "agent_turns_chat_id_turn_number_key" ON "agent_turns"("chat_id", "turn_number");

-- CreateIndex
CREATE INDEX "agent_messages_chat_id_turn_number_idx" ON "agent_messages"("chat_id", "turn_number");

-- AddForeignKey
ALTER TABLE "agent_settings" ADD CONSTRAINT "agent_settings_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_turns" ADD CONSTRAINT "agent_turns_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_messages" ADD CONSTRAINT "agent_messages_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_file_journal" ADD CONSTRAINT "agent_file_journal_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- One running turn per chat, whatever the process: a second sendMessage is a conflict.
CREATE UNIQUE INDEX "agent_turns_one_running_per_chat" ON "agent_turns"("chat_id") WHERE "status" = 'running';
