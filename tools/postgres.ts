// Postgres from Node tooling (node-postgres over TCP); Workers use src/db/postgres.ts (Neon over WebSocket).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { errorMessage } from "../src/core/errors";
import { log } from "../src/core/log";

/** A connect that takes longer than this means the server is not there. */
const PG_CONNECT_TIMEOUT_MS = 10_000;

/** Anything that runs queries: a Client or a pooled client. */
export type Queryable = Pick<pg.ClientBase, "query">;

/** The connect failed (no server, no such database, refused login): the message is pg's own. */
export class PgConnectError extends Error {
  constructor(cause: unknown) {
    super(errorMessage(cause, { sqlState: false }), { cause });
    this.name = "PgConnectError";
  }
}

/** Connects, runs `fn`, always disconnects. A failed connect rejects with a PgConnectError. */
export async function withPgClient<T>(
  databaseUrl: string,
  fn: (client: pg.Client) => Promise<T>,
  opts: { connectTimeoutMs?: number } = {},
): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: opts.connectTimeoutMs ?? PG_CONNECT_TIMEOUT_MS });
  // An 'error' event (the server terminating the backend) must not crash the tool; the query in flight fails anyway.
  client.on("error", (err: Error) => log("warn", "postgres_client_error", { error: errorMessage(err) }));
  try {
    await client.connect();
  } catch (err) {
    throw new PgConnectError(err);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch((err: unknown) => log("warn", "postgres_close_failed", { error: errorMessage(err) }));
  }
}

/** The same server as `serverUrl`, another database. */
export function databaseUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates an empty database on the server of `serverUrl` (a test's or a bench run's own) and returns its URL. */
export async function createDatabase(serverUrl: string, database: string): Promise<string> {
  await withPgClient(serverUrl, (admin) => admin.query(`CREATE DATABASE ${quoteIdent(database)}`));
  return databaseUrlFor(serverUrl, database);
}

/** Drops a database made by createDatabase, even with clients still connected. */
export async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  await withPgClient(serverUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`));
}

/**
 * A fresh database named `<prefix>_<hex>` on the local server (POSTGRES_SERVER_URL, else 127.0.0.1:5432),
 * or undefined when no server answers (a dev stack then embeds one). For scripts that start a stack of their own.
 */
export async function scratchDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  const server = process.env.POSTGRES_SERVER_URL ?? "postgres://root@127.0.0.1:5432/postgres";
  try {
    await withPgClient(server, (c) => c.query("SELECT 1"));
  } catch {
    return undefined;
  }
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  return { url: await createDatabase(server, name), drop: () => dropDatabase(server, name) };
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Hides the password when a connection URL ends up in a message. */
export function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = "***";
    return url.toString();
  } catch (error) {
    // Not a URL (e.g. a key=value connection string): say nothing of its contents.
    return `<unparseable connection string: ${errorMessage(error)}>`;
  }
}
