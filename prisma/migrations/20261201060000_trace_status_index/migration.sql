-- CreateIndex
CREATE INDEX "tool_traces_chat_id_status_started_at_id_idx" ON "tool_traces"("chat_id", "status", "started_at", "id");
