// The storage tiers a Worker has, built once per isolate from its bindings by the entry module.

import type { WorkerSecrets } from "../config/secrets";
import type { PostgresConfig } from "../db/postgres";
import type { EntityState } from "../durable/entity-state";
import { PostgresFeatureStore } from "./postgres-store";
import { RedisFeatureStore } from "./redis-store";

/** The bindings both Workers share (structural, so either Worker's generated Env fits). */
export interface TierEnv extends WorkerSecrets {
  FEATURES_KV?: KVNamespace;
  REGISTRY_KV?: KVNamespace;
  ENTITY_STATE?: DurableObjectNamespace<EntityState>;
  INGEST_QUEUE?: Queue;
  NEON_WS_PROXY?: string;
}

export interface Tiers {
  featuresKv: KVNamespace | undefined;
  registryKv: KVNamespace | undefined;
  entityState: DurableObjectNamespace<EntityState> | undefined;
  queue: Queue | undefined;
  redis: RedisFeatureStore | undefined;
  postgres: PostgresFeatureStore | undefined;
}

/** Postgres connection settings, or undefined when DATABASE_URL is not set (the tier is off). */
export function postgresConfigFrom(env: TierEnv): PostgresConfig | undefined {
  return env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL, wsProxy: env.NEON_WS_PROXY || undefined } : undefined;
}

/** Redis is off unless both URL and token are set; Postgres is off without DATABASE_URL. */
export function buildTiers(env: TierEnv): Tiers {
  const postgres = postgresConfigFrom(env);
  return {
    featuresKv: env.FEATURES_KV,
    registryKv: env.REGISTRY_KV,
    entityState: env.ENTITY_STATE,
    queue: env.INGEST_QUEUE,
    redis:
      env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
        ? new RedisFeatureStore({
            url: env.UPSTASH_REDIS_REST_URL,
            token: env.UPSTASH_REDIS_REST_TOKEN,
            keyPrefix: env.REDIS_KEY_PREFIX ?? "",
          })
        : undefined,
    postgres: postgres ? new PostgresFeatureStore(postgres) : undefined,
  };
}
