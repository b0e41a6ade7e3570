-- AlterTable
ALTER TABLE "tool_traces" ADD COLUMN     "agent_id" TEXT,
ADD COLUMN     "agent_type" TEXT;

-- CreateTable
CREATE TABLE "ingest_sessions" (
    "id" UUID NOT NULL,
    "source" TEXT NOT NULL,
    "external_id" TEXT NOT NULL,
    "chat_id" UUID NOT NULL,
    "open_prompt" TEXT,
    "last_prompt_id" TEXT,
    "titled_by_prompt" BOOLEAN NOT NULL DEFAULT false,
    "cwd" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ingest_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ingest_transcripts" (
    "chat_id" UUID NOT NULL,
    "path" TEXT NOT NULL,
    "offset" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ingest_transcripts_pkey" PRIMARY KEY ("chat_id","path")
);

-- CreateIndex
CREATE UNIQUE INDEX "ingest_sessions_chat_id_key" ON "ingest_sessions"("chat_id");

-- CreateIndex
CREATE UNIQUE INDEX "ingest_sessions_source_external_id_key" ON "ingest_sessions"("source", "external_id");

-- AddForeignKey
ALTER TABLE "ingest_sessions" ADD CONSTRAINT "ingest_sessions_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ingest_transcripts" ADD CONSTRAINT "ingest_transcripts_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

