// The storage tiers a Worker has, built once per isolate from its bindings, and their read and write order.
import type { WorkerSecrets } from "../config/secrets";
import type { OnlineStore, TierLevels } from "../core/online-store";
import type { CompiledRegistry } from "../core/registry";
import type { PostgresConfig } from "../db/postgres";
import type { EntityState } from "../durable/entity-state";
import { AggregateFeatureStore } from "./aggregate-store";
import { DurableObjectFeatureStore } from "./durable-object-store";
import { KvFeatureStore } from "./kv-store";
import { PostgresFeatureStore } from "./postgres-store";
import { RedisFeatureStore } from "./redis-store";
import { registryStoreFor } from "./registry-store";

/** The bindings both Workers share (structural, so either Worker's generated Env fits). */
export interface TierEnv extends WorkerSecrets {
  FEATURES_KV?: KVNamespace;
  REGISTRY_KV?: KVNamespace;
  ENTITY_STATE?: DurableObjectNamespace<EntityState>;
  INGEST_QUEUE?: Queue;
  NEON_WS_PROXY?: string;
}

/** Every tier is undefined when its binding or secret is not configured (the tier is off). */
export interface Tiers {
  kv: KvFeatureStore | undefined;
  durableObject: DurableObjectFeatureStore | undefined;
  /** Aggregation features, evaluated by the entity's Durable Object (optional: Tiers built by hand may leave it out). */
  aggregates?: AggregateFeatureStore | undefined;
  redis: RedisFeatureStore | undefined;
  postgres: PostgresFeatureStore | undefined;
  registryKv: KVNamespace | undefined;
  queue: Queue | undefined;
}

/** The stores of the tiers below L0, any of them off. */
export type TierStores = Partial<Pick<Tiers, "kv" | "durableObject" | "aggregates" | "redis" | "postgres">>;

/** Postgres connection settings, or undefined when DATABASE_URL is not set (the tier is off). */
export function postgresConfigFrom(env: TierEnv): PostgresConfig | undefined {
  return env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL, wsProxy: env.NEON_WS_PROXY || undefined } : undefined;
}

/**
 * Redis is off unless both URL and token are set; Postgres is off without DATABASE_URL. `registry`
 * is what the aggregate tier compiles its specs from (default: its own view of REGISTRY_KV).
 */
export function buildTiers(env: TierEnv, registry?: () => Promise<CompiledRegistry>): Tiers {
  const postgres = postgresConfigFrom(env);
  let aggregateRegistry = registry;
  if (!aggregateRegistry && env.ENTITY_STATE) {
    const own = registryStoreFor(env.REGISTRY_KV, postgres);
    aggregateRegistry = () => own.get();
  }
  return {
    kv: env.FEATURES_KV ? new KvFeatureStore(env.FEATURES_KV) : undefined,
    durableObject: env.ENTITY_STATE ? new DurableObjectFeatureStore(env.ENTITY_STATE) : undefined,
    aggregates: env.ENTITY_STATE && aggregateRegistry ? new AggregateFeatureStore(env.ENTITY_STATE, aggregateRegistry) : undefined,
    redis:
      env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
        ? new RedisFeatureStore({
            url: env.UPSTASH_REDIS_REST_URL,
            token: env.UPSTASH_REDIS_REST_TOKEN,
            keyPrefix: env.REDIS_KEY_PREFIX ?? "",
          })
        : undefined,
    postgres: postgres ? new PostgresFeatureStore(postgres) : undefined,
    registryKv: env.REGISTRY_KV,
    queue: env.INGEST_QUEUE,
  };
}

/**
 * The read path below L0 (DESIGN "Read path"): L1 = KV (batch) beside the Durable Object (stream)
 * and the Durable Object's aggregates (aggregation), L2 = Redis, then Postgres. A tier that is off
 * is left out; a level left empty is dropped.
 */
export function readOrder(tiers: TierStores): TierLevels {
  const levels = [[tiers.kv, tiers.durableObject, tiers.aggregates], [tiers.redis], [tiers.postgres]];
  return levels.map((level) => level.filter((t) => t !== undefined)).filter((level) => level.length > 0);
}

/** The online tiers the ingest consumer writes after Postgres (in parallel; each takes what it serves). */
export function onlineWriteTargets(tiers: TierStores): OnlineStore[] {
  return [tiers.redis, tiers.durableObject, tiers.kv].filter((t) => t !== undefined);
}
