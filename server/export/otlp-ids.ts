import { createHash } from "node:crypto";

/**
 * OTLP ids derived from Tracedeck's: the same chat exported twice gives the same ids, so a
 * backend that receives both sees one trace. OTLP/JSON writes ids as lower-case hex.
 */

/** A chat is one OTLP trace: its UUID is 16 bytes already. */
export const otlpTraceId = (chatId: string) => chatId.replaceAll("-", "").toLowerCase();

/** 8 bytes of SHA-256 over a name; an all-zero id is invalid in OTLP, so it is never that. */
function spanIdOf(name: string): string {
  const hex = createHash("sha256").update(name).digest("hex").slice(0, 16);
  return /^0+$/.test(hex) ? "0000000000000001" : hex;
}

/** The execute_tool span of a trace. */
export const toolSpanId = (traceId: string) => spanIdOf(`tool:${traceId}`);

/** The chat span of a model step (a message id, or trace:<id> for a call without one). */
export const stepSpanId = (chatId: string, stepKey: string) => spanIdOf(`step:${chatId}:${stepKey}`);

/** Unix nanoseconds as OTLP/JSON's decimal string (a 64-bit integer). */
export const unixNanos = (date: Date) => (BigInt(date.getTime()) * 1_000_000n).toString();
