// Postgres from inside a Worker: @neondatabase/serverless over WebSocket, one client per request.
import { Client } from "@neondatabase/serverless";
import { errorMessage } from "../core/errors";
import { log } from "../core/log";

/** A Neon connect or query that takes longer than this is treated as a down tier. */
export const POSTGRES_CONNECT_TIMEOUT_MS = 3_000;

/**
 * Locally the driver reaches a plain Postgres through dev/pg-ws-relay.ts ("host:port" of the
 * relay, no TLS inside the WebSocket); in production NEON_WS_PROXY is empty and Neon's own
 * endpoint is used. Set per client, so two databases behind two relays never share a setting.
 */
function configureClient(client: Client, wsProxy: string | undefined): void {
  if (!wsProxy) return;
  client.neonConfig.wsProxy = (host, port) => `${wsProxy}/v2?address=${host}:${port}`;
  client.neonConfig.useSecureWebSocket = false;
  client.neonConfig.pipelineTLS = false;
  client.neonConfig.pipelineConnect = false;
}

export interface PostgresConfig {
  databaseUrl: string;
  wsProxy?: string | undefined;
}

/**
 * Workers cannot share a socket between requests, so each unit of work opens its own client and
 * closes it when done. The connect is bounded so a dead database fails fast.
 */
export async function withPostgresClient<T>(cfg: PostgresConfig, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: cfg.databaseUrl, connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS });
  configureClient(client, cfg.wsProxy);
  let closing = false;
  // An unhandled 'error' event (e.g. the server terminating the backend) must not crash the isolate;
  // after end() the socket closing underneath is expected and not worth a log line.
  client.on("error", (err: Error) => {
    if (!closing) log("warn", "postgres_client_error", { error: errorMessage(err) });
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    closing = true;
    client.end().catch((err: unknown) => log("warn", "postgres_close_failed", { error: errorMessage(err) }));
  }
}

/** The snapshot of the latest apply, for Workers whose KV has none yet. */
export async function latestRegistrySnapshot(cfg: PostgresConfig): Promise<unknown> {
  return withPostgresClient(cfg, async (client) => {
    const res = await client.query<{ snapshot: unknown }>("select snapshot from registry_versions order by id desc limit 1");
    return res.rows[0]?.snapshot;
  });
}
