import type { IncomingMessage } from "node:http";
import { type Config, isLoopbackHost } from "../config.js";

/**
 * Who may talk to the server. Two checks, applied to every request and WebSocket upgrade:
 * - Host: a page on an attacker's domain that resolves to 127.0.0.1 (DNS rebinding) sends its own
 *   domain as Host, so only the server's own names are answered: loopback names always,
 *   PUBLIC_URL's host and ALLOWED_HOSTS besides.
 * - Origin (browsers only): the page's origin must be the server's own (same host as the checked
 *   Host), PUBLIC_URL's, or one of CORS_ORIGINS. Clients that are not browsers send no Origin.
 */
export interface RequestPolicy {
  hostAllowed(hostHeader: string | undefined): boolean;
  originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean;
}

/** The host name of a Host header (`name`, `name:port`, `[v6]:port`), lower-cased; undefined if malformed. */
export function hostNameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(hostHeader.trim());
  if (!match) return undefined;
  const name = match[1]!.toLowerCase();
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

const bare = (name: string) => name.replace(/^\[|\]$/g, "");

export function createRequestPolicy(config: Pick<Config, "PUBLIC_URL" | "ALLOWED_HOSTS" | "CORS_ORIGINS">): RequestPolicy {
  const publicUrl = config.PUBLIC_URL ? new URL(config.PUBLIC_URL) : undefined;
  const exact = new Set<string>(config.ALLOWED_HOSTS.filter((h) => !h.startsWith(".")).map((h) => bare(h.toLowerCase())));
  const suffixes = config.ALLOWED_HOSTS.filter((h) => h.startsWith(".")).map((h) => h.toLowerCase());
  if (publicUrl) exact.add(bare(publicUrl.hostname.toLowerCase()));
  const origins = new Set([...config.CORS_ORIGINS, ...(publicUrl ? [publicUrl.origin] : [])]);

  const hostAllowed = (hostHeader: string | undefined) => {
    const name = hostNameOf(hostHeader);
    if (name === undefined) return false;
    const plain = bare(name);
    return isLoopbackHost(plain) || exact.has(plain) || suffixes.some((s) => plain.endsWith(s) || plain === s.slice(1));
  };

  return {
    hostAllowed,
    originAllowed(origin, hostHeader) {
      if (origin === undefined) return true;
      if (origins.has(origin)) return true;
      try {
        // The Host was checked first, so "same host as Host" means one of the server's own names.
        const url = new URL(origin);
        return (url.protocol === "http:" || url.protocol === "https:") && url.host === hostHeader?.toLowerCase() && hostAllowed(hostHeader);
      } catch {
        return false; // "null" (sandboxed frames, file:) and anything unparsable
      }
    },
  };
}

/** The request's single Origin header, or undefined; several Origin headers count as a bad one. */
export const originOf = (req: IncomingMessage): string | undefined => {
  const raw = req.headersDistinct.origin;
  if (!raw) return undefined;
  return raw.length === 1 ? raw[0] : "invalid";
};

/** The request's single Host header; with several (Node keeps the first), none is trusted. */
export const hostOf = (req: IncomingMessage): string | undefined => {
  const raw = req.headersDistinct.host;
  return raw?.length === 1 ? raw[0] : undefined;
};
