// For Node tests that make their own database: the Postgres server to use and whether it answers.
import { errorMessage } from "../../src/core/errors";
import { databaseUrlFor, withPgClient } from "../../tools/postgres";

export const DEFAULT_SERVER = "postgres://root@127.0.0.1:5432/postgres";
export const PROBE_TIMEOUT_MS = 3_000;

/** The same server as DATABASE_URL (or the local default), pointed at another database. */
export function urlFor(database: string): string {
  return databaseUrlFor(process.env.DATABASE_URL || DEFAULT_SERVER, database);
}

/** null when the server answers `select 1`, else why not. */
export async function probe(url: string): Promise<string | null> {
  try {
    await withPgClient(url, (client) => client.query("select 1"), { connectTimeoutMs: PROBE_TIMEOUT_MS });
    return null;
  } catch (error) {
    return errorMessage(error, { sqlState: false });
  }
}
