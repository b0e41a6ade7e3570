/**
 * SDK errors of the real providers as ProviderErrors a user can act on. Messages name the provider,
 * the HTTP status and the provider's short explanation, never the API key: every message built here
 * has the key cut out again before it leaves, in case a provider echoed it.
 *
 * Nothing here loads an SDK (about 23 MB for the two): each provider imports its SDK on its first
 * request and passes the SDK's error classes in (SdkErrorClasses), so a server that never calls a
 * model never loads one.
 */
import type { APIError as AnthropicApiError } from "@anthropic-ai/sdk";
import type { APIError as OpenAiApiError } from "openai";
import type { z } from "zod";
import { ProviderError, type ProviderErrorKind } from "./provider.js";

export type RemoteProviderName = "openai" | "anthropic";

const LABELS: Record<RemoteProviderName, string> = { openai: "OpenAI", anthropic: "Anthropic" };
const KEY_VARIABLES: Record<RemoteProviderName, string> = { openai: "OPENAI_API_KEY", anthropic: "ANTHROPIC_API_KEY" };
export const DEFAULT_BASE_URLS: Record<RemoteProviderName, string> = {
  openai: "https://api.openai.com/v1",
  anthropic: "https://api.anthropic.com",
};

/** The longest provider explanation carried into a message. */
const MAX_DETAIL = 300;

/** What the mapping needs to know about the request that failed. */
export interface FailureContext {
  baseURL: string;
  apiKey?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The error classes of a loaded SDK (`openai` or `@anthropic-ai/sdk`), for the mapping's instanceof checks. */
export interface SdkErrorClasses {
  APIError: abstract new (...args: never[]) => OpenAiApiError | AnthropicApiError;
  APIConnectionError: abstract new (...args: never[]) => Error;
  APIConnectionTimeoutError: abstract new (...args: never[]) => Error;
  APIUserAbortError: abstract new (...args: never[]) => Error;
}

/** A configured key: undefined for a missing, empty or blank one. */
export function configuredKey(apiKey: string | undefined): string | undefined {
  return apiKey !== undefined && apiKey.trim() !== "" ? apiKey : undefined;
}

export function missingKeyError(provider: RemoteProviderName): ProviderError {
  return new ProviderError(provider, "missing_key", `${KEY_VARIABLES[provider]} is not set`);
}

export function cancelledError(provider: RemoteProviderName | "scripted"): ProviderError {
  const label = provider === "scripted" ? "the scripted provider" : LABELS[provider];
  return new ProviderError(provider, "cancelled", `the request to ${label} was cancelled`);
}

/** An answer that is not in the provider's documented format. */
export function badResponseError(provider: RemoteProviderName, detail: string, apiKey?: string): ProviderError {
  return make(provider, "bad_response", `${LABELS[provider]} answered in an unexpected format: ${short(detail)}`, apiKey);
}

/** The host (and port) of a base URL, for messages; the URL as given when it does not parse. */
export function hostOf(baseURL: string): string {
  try {
    return new URL(baseURL).host || baseURL;
  } catch {
    return baseURL;
  }
}

/**
 * Any error from a provider call as a ProviderError. `sdk` is the provider's loaded SDK; without it
 * (the SDK is not loaded yet) only aborts and plain errors are recognised.
 */
export function toProviderError(provider: RemoteProviderName, error: unknown, ctx: FailureContext, sdk?: SdkErrorClasses): ProviderError {
  if (error instanceof ProviderError) return error;
  const label = LABELS[provider];
  const host = hostOf(ctx.baseURL);
  if (ctx.signal?.aborted || (sdk && error instanceof sdk.APIUserAbortError) || isAbortError(error)) return cancelledError(provider);
  if (sdk && error instanceof sdk.APIConnectionTimeoutError)
    return make(provider, "unreachable", `${label} at ${host} did not answer within ${ctx.timeoutMs} ms`, ctx.apiKey);
  if (sdk && error instanceof sdk.APIConnectionError)
    return make(provider, "unreachable", `could not reach ${label} at ${host}: ${connectionReason(error)}`, ctx.apiKey);
  if (sdk && error instanceof sdk.APIError && typeof error.status === "number") {
    const status = error.status;
    if (status === 401 || status === 403)
      return make(provider, "auth", `${label} refused the API key (${status})`, ctx.apiKey, status);
    const detail = providerDetail(error, status);
    return make(provider, "refused", `${label} refused the request (${status})${detail ? `: ${detail}` : ""}`, ctx.apiKey, status);
  }
  const message = error instanceof Error ? error.message : String(error);
  return make(provider, "bad_response", `${label} call failed: ${short(message)}`, ctx.apiKey);
}

function make(provider: RemoteProviderName, kind: ProviderErrorKind, message: string, apiKey?: string, status?: number): ProviderError {
  return new ProviderError(provider, kind, redact(message, apiKey), status);
}

/** The message with every occurrence of the key cut out. */
export function redact(message: string, apiKey: string | undefined): string {
  const key = apiKey?.trim();
  if (!key) return message;
  return message.split(key).join("[redacted]");
}

function short(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_DETAIL ? `${oneLine.slice(0, MAX_DETAIL)}…` : oneLine;
}

/** The provider's own short explanation of a refusal, when it gave one. */
function providerDetail(error: OpenAiApiError | AnthropicApiError, status: number): string {
  // Anthropic: { type: "error", error: { type, message } }, read by the SDK into apiMessage.
  if ("apiMessage" in error && typeof error.apiMessage === "string" && error.apiMessage) return short(error.apiMessage);
  // OpenAI: the SDK keeps the body's `error` object; compatible servers may send { error: "text" }.
  const body: unknown = error.error;
  if (typeof body === "string" && body) return short(body);
  if (typeof body === "object" && body !== null) {
    const message = (body as { message?: unknown }).message;
    if (typeof message === "string" && message) return short(message);
    const inner = (body as { error?: unknown }).error;
    if (typeof inner === "string" && inner) return short(inner);
    if (typeof inner === "object" && inner !== null && typeof (inner as { message?: unknown }).message === "string")
      return short((inner as { message: string }).message);
  }
  // A body that was not JSON: the SDK puts its text in the message after the status.
  const text = error.message.replace(new RegExp(`^${status}\\s*`), "");
  return /^status code \(no body\)$/.test(text) ? "" : short(text);
}

/** Why a connection failed, from the fetch error's cause chain (ECONNREFUSED, ENOTFOUND, …). */
function connectionReason(error: Error): string {
  const reasons: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host name lookup failed",
    ETIMEDOUT: "connection timed out",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    UND_ERR_SOCKET: "connection closed",
    UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  };
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return reasons[code] ?? code;
    // An AggregateError (one attempt per address) carries its codes in `errors`.
    const inner = (current as { errors?: unknown }).errors;
    if (Array.isArray(inner) && inner[0] instanceof Error) {
      const innerCode = (inner[0] as { code?: unknown }).code;
      if (typeof innerCode === "string") return reasons[innerCode] ?? innerCode;
    }
    current = current.cause;
  }
  return short(error.message || "connection error");
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "APIUserAbortError");
}

/** The first few issues of a failed parse, as one line: `path: message; …`. */
export function describeIssues(error: z.ZodError): string {
  const issues = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.filter((p) => typeof p !== "symbol").join(".");
    return `${path ? `${path}: ` : ""}${issue.message}`;
  });
  return issues.join("; ") + (error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : "");
}
