/**
 * Which pages may call the API from a browser: the server's own origin and CORS_ORIGINS. Clients
 * that are not browsers send no Origin and are not concerned.
 */
export function originAllowed(allowed: readonly string[]) {
  return (origin: string | undefined, host: string | undefined): boolean => {
    if (origin === undefined || allowed.includes(origin)) return true;
    try {
      return new URL(origin).host === host;
    } catch {
      return false;
    }
  };
}
