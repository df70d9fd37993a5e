// Finds or starts what the Workers need locally: Postgres (+ WebSocket relay) and Redis (+ Upstash gateway).
import { randomBytes } from "node:crypto";
import net from "node:net";
import { startEmbeddedPostgres } from "./embedded-postgres";
import { startPgWsRelay } from "./pg-ws-relay";
import { startUpstashGateway } from "./upstash-gateway";

export const LOCAL_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";
export const LOCAL_REDIS_URL = "redis://127.0.0.1:6379";
/** How long to wait for a TCP connect when checking whether a local service is up. */
export const REACHABILITY_TIMEOUT_MS = 500;

export type PostgresSource = "DATABASE_URL" | "local" | "embedded";

export interface PostgresService {
  url: string;
  source: PostgresSource;
  close(): Promise<void>;
}

export interface RedisService {
  /** redis:// URL of the real Redis, or undefined when the L2 tier is off. */
  redisUrl: string | undefined;
  source: "REDIS_URL" | "local" | "off";
  /** Upstash REST endpoint in front of it. */
  restUrl: string | undefined;
  restToken: string | undefined;
  close(): Promise<void>;
}

export function isTcpReachable(host: string, port: number, timeoutMs = REACHABILITY_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * DATABASE_URL when set; else (tests only) the machine's Postgres on 127.0.0.1:5432 when it
 * answers; else an embedded PGlite under dataDir.
 */
export async function resolvePostgres(opts: { allowLocal: boolean; dataDir: string; embeddedPort?: number }): Promise<PostgresService> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) return { url: fromEnv, source: "DATABASE_URL", close: async () => undefined };
  if (opts.allowLocal && (await isTcpReachable("127.0.0.1", 5432))) {
    return { url: LOCAL_POSTGRES_URL, source: "local", close: async () => undefined };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: opts.dataDir, port: opts.embeddedPort ?? 0 });
  return { url: embedded.url, source: "embedded", close: () => embedded.close() };
}

/** REDIS_URL when set, else 127.0.0.1:6379 when it answers, else off; fronted by the Upstash gateway. */
export async function resolveRedis(opts: { gatewayPort?: number; token?: string }): Promise<RedisService> {
  let redisUrl: string | undefined;
  let source: RedisService["source"] = "off";
  if (process.env.REDIS_URL) {
    redisUrl = process.env.REDIS_URL;
    source = "REDIS_URL";
  } else if (await isTcpReachable("127.0.0.1", 6379)) {
    redisUrl = LOCAL_REDIS_URL;
    source = "local";
  }
  if (!redisUrl) return { redisUrl, source, restUrl: undefined, restToken: undefined, close: async () => undefined };
  const token = opts.token ?? randomBytes(16).toString("hex");
  const gateway = await startUpstashGateway({ redisUrl, token, port: opts.gatewayPort ?? 0 });
  return { redisUrl, source, restUrl: gateway.url, restToken: token, close: () => gateway.close() };
}

/** The relay only reaches loopback by default; a DATABASE_URL on another host is allowed explicitly. */
export async function startRelay(databaseUrl: string, port = 0) {
  const host = new URL(databaseUrl).hostname;
  return startPgWsRelay({ port, allowedHosts: ["127.0.0.1", "localhost", "::1", host] });
}
