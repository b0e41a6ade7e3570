/** Where the PostgreSQL test server is: TEST_PG_URL, default the CI machines' local server. */
export function adminUrl(): string {
  return process.env.TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
}

export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}
