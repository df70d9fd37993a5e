// Shared fixtures of the ingest tests: a hand-written registry, SQL helpers, store readers and waiting.
import { env } from "cloudflare:test";
import { inject } from "vitest";
import { FeatureDefinition, type FeatureDefinitionInput } from "../../src/core/definitions";
import type { IngestMessage } from "../../src/core/ingest-message";
import { kvEntityKey, REGISTRY_SNAPSHOT_KEY, REGISTRY_VERSION_KEY, type TimedValue } from "../../src/core/keys";
import type { Logger } from "../../src/core/log";
import type { EntityRef } from "../../src/core/online-store";
import { CompiledRegistry, type RegistrySnapshot } from "../../src/core/registry";
import { type PostgresConfig, withPostgresClient } from "../../src/db/postgres";
import { buildIngestContext, type IngestContext, type IngestEnv } from "../../src/ingest/context";
import { DurableObjectFeatureStore } from "../../src/stores/durable-object-store";
import { type KvRow, rowToValues } from "../../src/stores/kv-store";
import { RedisFeatureStore } from "../../src/stores/redis-store";

/** Keys of test/support/global-setup.ts (TEST_KEYS): one scope each; the Worker only knows their hashes. */
export const SERVE_ONLY_KEY = "test-key-serve";
export const INGEST_ONLY_KEY = "test-key-ingest";
export const UNREACHABLE_DATABASE_URL = "postgres://root@127.0.0.1:1/unreachable";
export const UNREACHABLE_REDIS_URL = "http://127.0.0.1:1";

const base = { owner: "ml-platform@echotune.fm", description: "ingest test feature", retention_days: 30, ttl_seconds: 86_400 };
const none = (type: string) => `select null::text as entity_id, null::${type} as value where false`;

export const TEST_FEATURES: FeatureDefinitionInput[] = [
  {
    ...base,
    name: "tst_plays_1h",
    group: "tst_user_stream",
    entity_type: "user",
    feature_type: "numerical",
    computation_type: "stream",
    update_frequency: "realtime",
    min_value: 0,
  },
  {
    ...base,
    name: "tst_last_genre",
    group: "tst_user_stream",
    entity_type: "user",
    feature_type: "categorical",
    computation_type: "stream",
    update_frequency: "realtime",
    allowed_values: ["rock", "pop", "jazz"],
  },
  {
    ...base,
    name: "tst_required",
    group: "tst_user_stream",
    entity_type: "user",
    feature_type: "numerical",
    computation_type: "stream",
    update_frequency: "realtime",
    null_policy: "reject",
  },
  {
    ...base,
    name: "tst_affinity",
    group: "tst_user_batch",
    entity_type: "user",
    feature_type: "numerical",
    computation_type: "batch",
    update_frequency: "6h",
    min_value: 0,
    max_value: 1,
    source_query: "select entity_id, value from tst_affinity_source",
  },
  {
    ...base,
    name: "tst_top_genres",
    group: "tst_user_batch",
    entity_type: "user",
    feature_type: "array",
    item_type: "string",
    computation_type: "batch",
    update_frequency: "1d",
    source_query: none("text[]"),
  },
  {
    ...base,
    name: "tst_embedding",
    group: "tst_user_batch",
    entity_type: "user",
    feature_type: "embedding",
    dimension: 3,
    computation_type: "batch",
    update_frequency: "1d",
    source_query: none("float8[]"),
  },
  {
    ...base,
    name: "tst_time_of_day",
    group: "tst_user_context",
    entity_type: "user",
    feature_type: "categorical",
    computation_type: "on_demand",
    update_frequency: "realtime",
    transform: { name: "time_of_day", inputs: ["context.timestamp"] },
  },
  {
    ...base,
    name: "tst_session_tracks",
    group: "tst_session_stream",
    entity_type: "session",
    feature_type: "numerical",
    computation_type: "stream",
    update_frequency: "realtime",
    min_value: 0,
  },
];

export function snapshotOf(features: FeatureDefinitionInput[], version = "r-ingest-test"): RegistrySnapshot {
  return {
    version,
    version_number: 1,
    applied_at: "2026-11-28T00:00:00.000Z",
    author: "ingest-tests",
    entities: [
      { name: "user", join_key: "user_id", description: "a listener", id_prefix: "user_" },
      { name: "session", join_key: "session_id", description: "a session", id_prefix: "session_" },
    ],
    features: features.map((f) => FeatureDefinition.parse(f)),
    event_types: [],
    feature_services: [],
  };
}

export const TEST_SNAPSHOT = snapshotOf(TEST_FEATURES);
export const TEST_REGISTRY = new CompiledRegistry(TEST_SNAPSHOT);

export const pgConfig = (): PostgresConfig => ({ databaseUrl: env.DATABASE_URL!, wsProxy: env.NEON_WS_PROXY || undefined });

export async function sql<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return withPostgresClient(pgConfig(), async (client) => (await client.query<T>(text, params)).rows);
}

/** Publishes the test registry the way `npm run registry -- apply` does: KV (what Workers read) and Postgres. */
export async function applyTestRegistry(): Promise<void> {
  await env.REGISTRY_KV.put(REGISTRY_SNAPSHOT_KEY, JSON.stringify(TEST_SNAPSHOT));
  await env.REGISTRY_KV.put(REGISTRY_VERSION_KEY, TEST_SNAPSHOT.version);
  await sql(
    `insert into registry_versions (content_hash, author, diff, snapshot, feature_count)
     select $1, 'ingest-tests', '{}'::jsonb, $2::jsonb, $3
      where not exists (select 1 from registry_versions where content_hash = $1)`,
    [TEST_SNAPSHOT.version, JSON.stringify(TEST_SNAPSHOT), TEST_SNAPSHOT.features.length],
  );
}

export const redisAvailable = (): boolean => inject("redisAvailable");

/**
 * Redis assertions need a Redis; without one they are skipped loudly. Under CI=true the global
 * setup already refuses to start without Redis, so this never skips in CI.
 */
export function redisOrSkip(what: string): boolean {
  if (redisAvailable()) return true;
  console.warn(`!!! SKIPPING Redis assertions (${what}): no Redis reachable at 127.0.0.1:6379 !!!`);
  return false;
}

export const ingestEnv = (overrides: Partial<IngestEnv> = {}): IngestEnv => ({ ...env, ...overrides });

/** The Worker's context built from the test bindings, with optional broken or recording parts. */
export function testDeps(overrides: Partial<IngestEnv> = {}, log: Logger = () => undefined): IngestContext {
  return buildIngestContext(ingestEnv(overrides), { log });
}

/** A queue producer that keeps what it was sent (and the size of each sendBatch call). */
export interface RecordingQueue extends Pick<Queue, "send" | "sendBatch"> {
  sent: unknown[];
  batches: number[];
}

export function recordingQueue(): RecordingQueue {
  const response = {
    metadata: { metrics: { backlogCount: 0, backlogBytes: 0, oldestMessageTimestamp: undefined } },
  } as unknown as QueueSendResponse;
  const q: RecordingQueue = {
    sent: [],
    batches: [],
    async send(body) {
      q.sent.push(structuredClone(body));
      return response;
    },
    async sendBatch(messages) {
      const list = [...messages];
      q.batches.push(list.length);
      for (const m of list) q.sent.push(structuredClone(m.body));
      return response as unknown as QueueSendBatchResponse;
    },
  };
  return q;
}

let counter = 0;
/** An id no other test (or test run) uses. */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}${counter}`;
}

export function message(
  entity: { type?: IngestMessage["entity_type"]; id: string },
  eventTimestamp: number,
  features: Record<string, unknown>,
  extra: Partial<IngestMessage> = {},
): IngestMessage {
  return {
    entity_type: entity.type ?? "user",
    entity_id: entity.id,
    event_timestamp: eventTimestamp,
    features,
    update_id: crypto.randomUUID(),
    source: "push",
    ...extra,
  };
}

let messageSeq = 0;
export function queued<T>(body: T, attempts = 1): { id: string; timestamp: Date; attempts: number; body: T } {
  messageSeq += 1;
  return { id: `msg-${messageSeq}-${Math.random().toString(36).slice(2, 8)}`, timestamp: new Date(), attempts, body };
}

// ------------------------------------------------------------------ reading every store

/** feature_latest of one entity; `withTiebreak` adds each value's tiebreak (the others tiers return theirs always). */
export async function latestInPostgres(entityType: string, entityId: string, withTiebreak = false): Promise<Record<string, TimedValue>> {
  const rows = await sql<{ feature_name: string; feature_value: unknown; ts: string; tiebreak: string }>(
    `select feature_name, feature_value, (extract(epoch from event_timestamp) * 1000)::bigint::text as ts, tiebreak
       from feature_latest where entity_type = $1 and entity_id = $2`,
    [entityType, entityId],
  );
  return Object.fromEntries(
    rows.map((r) => [
      r.feature_name,
      { value: r.feature_value, eventTimestamp: Number(r.ts), ...(withTiebreak ? { tiebreak: r.tiebreak } : {}) },
    ]),
  );
}

/** Value and event time only: for assertions about which value won, not about its tiebreak. */
export function plain(values: Record<string, TimedValue>): Record<string, { value: unknown; eventTimestamp: number }> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: v.value, eventTimestamp: v.eventTimestamp }]));
}

export async function featureValueCount(entityType: string, entityId: string): Promise<number> {
  const rows = await sql<{ n: number }>(`select count(*)::int as n from feature_values where entity_type = $1 and entity_id = $2`, [
    entityType,
    entityId,
  ]);
  return rows[0]?.n ?? 0;
}

export function redisStore(): RedisFeatureStore {
  return new RedisFeatureStore({
    url: env.UPSTASH_REDIS_REST_URL!,
    token: env.UPSTASH_REDIS_REST_TOKEN!,
    keyPrefix: env.REDIS_KEY_PREFIX ?? "",
  });
}

export async function inRedis(ref: EntityRef, features: string[]): Promise<Record<string, TimedValue>> {
  return (await redisStore().read([ref], [features]))[0] ?? {};
}

export async function inDurableObject(ref: EntityRef, features: string[]): Promise<Record<string, TimedValue>> {
  return (await new DurableObjectFeatureStore(env.ENTITY_STATE).read([ref], [features]))[0] ?? {};
}

export async function inKv(ref: EntityRef): Promise<Record<string, TimedValue>> {
  return rowToValues(await env.FEATURES_KV.get<KvRow>(kvEntityKey(ref.entityType, ref.entityId), "json"));
}

/** Polls until `check` returns a value (not undefined) or the timeout passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
