// Helpers for the serving tests: registry in KV, direct writes to each tier, authenticated calls.
import { env, SELF } from "cloudflare:test";
import { inject } from "vitest";
import { durableObjectName, kvEntityKey, REGISTRY_SNAPSHOT_KEY, REGISTRY_VERSION_KEY } from "../../src/core/keys";
import { CompiledRegistry, RegistrySnapshot } from "../../src/core/registry";
import { withPostgresClient } from "../../src/db/postgres";
import { RedisFeatureStore } from "../../src/stores/redis-store";

export const API_KEY = inject("testApiKey");
export const SERVE_ONLY_KEY = "test-key-serve";
export const INGEST_ONLY_KEY = "test-key-ingest";

export function snapshot(): RegistrySnapshot {
  return RegistrySnapshot.parse(JSON.parse(inject("registrySnapshot")));
}

export function registry(): CompiledRegistry {
  return new CompiledRegistry(snapshot());
}

export async function publishRegistry(s: RegistrySnapshot = snapshot()): Promise<void> {
  await env.REGISTRY_KV.put(REGISTRY_SNAPSHOT_KEY, JSON.stringify(s));
  await env.REGISTRY_KV.put(REGISTRY_VERSION_KEY, s.version);
}

export async function post(path: string, body: unknown, key: string | null = API_KEY): Promise<Response> {
  return SELF.fetch(`http://fs${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export async function get(path: string, key: string | null = API_KEY): Promise<Response> {
  return SELF.fetch(`http://fs${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
}

export const pgConfig = () => ({ databaseUrl: env.DATABASE_URL!, wsProxy: env.NEON_WS_PROXY || undefined });

export async function sql(text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  return withPostgresClient(pgConfig(), async (c) => (await c.query(text, params)).rows as Record<string, unknown>[]);
}

export async function putLatest(entityType: string, entityId: string, feature: string, value: unknown, eventTs: number): Promise<void> {
  await sql(
    `insert into feature_latest (entity_type, entity_id, feature_name, feature_value, event_timestamp)
     values ($1, $2, $3, $4::jsonb, to_timestamp($5 / 1000.0))
     on conflict (entity_type, entity_id, feature_name) do update set feature_value = excluded.feature_value, event_timestamp = excluded.event_timestamp`,
    [entityType, entityId, feature, JSON.stringify(value), eventTs],
  );
}

export const redisAvailable = () => inject("redisAvailable");

export function redisStore(): RedisFeatureStore {
  return new RedisFeatureStore({
    url: env.UPSTASH_REDIS_REST_URL!,
    token: env.UPSTASH_REDIS_REST_TOKEN!,
    keyPrefix: env.REDIS_KEY_PREFIX ?? "",
  });
}

export async function putKvRow(entityType: string, entityId: string, row: Record<string, [number, unknown]>): Promise<void> {
  await env.FEATURES_KV.put(kvEntityKey(entityType, entityId), JSON.stringify(row));
}

export function entityStub(entityType: string, entityId: string) {
  return env.ENTITY_STATE.get(env.ENTITY_STATE.idFromName(durableObjectName(entityType, entityId)));
}

/** Unique entity ids per test, so the shared Postgres/Redis never leak state between tests. */
let counter = 0;
export function uniqueId(prefix: string): string {
  counter++;
  return `${prefix}${Date.now() % 1_000_000}${counter}${Math.floor(Math.random() * 1000)}`;
}

export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
