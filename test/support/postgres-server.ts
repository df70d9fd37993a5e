// For Node tests that make their own database: the Postgres server to use and whether it answers.
import pg from "pg";

export const DEFAULT_SERVER = "postgres://root@127.0.0.1:5432/postgres";
export const PROBE_TIMEOUT_MS = 3_000;

/** The same server as DATABASE_URL (or the local default), pointed at another database. */
export function urlFor(database: string): string {
  const url = new URL(process.env.DATABASE_URL || DEFAULT_SERVER);
  url.pathname = `/${database}`;
  return url.toString();
}

/** null when the server answers `select 1`, else why not. */
export async function probe(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query("select 1");
    return null;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  } finally {
    await client.end().catch((endError: unknown) => console.warn(`closing the Postgres probe failed: ${String(endError)}`));
  }
}
