// Loads the bench data: Postgres feature_latest (server-side generate_series), KV rows and Durable
// Objects through the loader Worker, Redis hashes over raw RESP with the Workers' key/field encoding.
import type { RedisCommand } from "../../dev/upstash-gateway";
import { durableObjectName, encodeTimedValue, redisEntityKey } from "../../src/core/keys";
import { withPgClient } from "../../tools/postgres";
import { eventTimestamp, featureValueSql, kvRow, type LoadEntity, VECTORS, type VectorName, vectorValues } from "./dataset";
import { HttpClient } from "./http";
import { RespClient } from "./resp";

/** Rows per loader request and requests in flight (the local KV simulator is one Durable Object). */
const KV_ROWS_PER_REQUEST = 500;
const KV_REQUESTS_IN_FLIGHT = 2;
const DO_OBJECTS_PER_REQUEST = 50;
/** HSETs per pipelined write and writes in flight on the one Redis connection. */
const REDIS_COMMANDS_PER_WRITE = 500;
const REDIS_WRITES_IN_FLIGHT = 4;

export type { LoadEntity };

// ------------------------------------------------------------------ Postgres

export interface PostgresRange {
  entityType: string;
  /** ids are `${idPrefix}${n}` for n in 1..count */
  idPrefix: string;
  count: number;
  vector: VectorName;
}

const PK = "feature_latest_entity_type_entity_id_feature_name_pk";
const FEATURE_IDX = "feature_latest_feature_idx";

/**
 * Bulk load of feature_latest: indexes dropped, one INSERT ... SELECT generate_series per range
 * (two connections at a time), then the primary key and index rebuilt as the migration defines them.
 */
export async function loadPostgres(
  databaseUrl: string,
  ranges: PostgresRange[],
  featuresPerVector: number,
  loadedAt: number,
): Promise<{ rows: number; insertMs: number; indexMs: number }> {
  const started = Date.now();
  let rows = 0;
  return withPgClient(databaseUrl, async (admin) => {
    await admin.query(`alter table feature_latest drop constraint ${PK}`);
    await admin.query(`drop index ${FEATURE_IDX}`);
    const queue = [...ranges];
    const worker = async () => {
      await withPgClient(databaseUrl, async (c) => {
        await c.query("set synchronous_commit = off");
        for (let r = queue.shift(); r; r = queue.shift()) {
          const { prefix } = VECTORS[r.vector];
          const res = await c.query(
            `insert into feature_latest (entity_type, entity_id, feature_name, feature_value, event_timestamp, ingested_at)
             select $1::text, $2::text || e::text, $3::text || lpad(f::text, 2, '0'), ${featureValueSql("e", "f")},
                    to_timestamp(($4::bigint - (e % 3600) * 1000) / 1000.0), now()
               from generate_series(1, $5::int) e, generate_series(0, $6::int - 1) f`,
            [r.entityType, r.idPrefix, `${prefix}_`, loadedAt, r.count, featuresPerVector],
          );
          rows += res.rowCount ?? 0;
        }
      });
    };
    await Promise.all([worker(), worker()]);
    const insertMs = Date.now() - started;
    await admin.query("set maintenance_work_mem = '512MB'");
    await admin.query(`alter table feature_latest add constraint ${PK} primary key (entity_type, entity_id, feature_name)`);
    await admin.query(`create index ${FEATURE_IDX} on feature_latest using btree (feature_name)`);
    await admin.query("analyze feature_latest");
    // An insert-triggered autovacuum of 50 M fresh rows would run for minutes during the scenarios and
    // compete with them for the two cores; the bench database is dropped afterwards anyway.
    await admin.query("alter table feature_latest set (autovacuum_enabled = false)");
    return { rows, insertMs, indexMs: Date.now() - started - insertMs };
  });
}

// ------------------------------------------------------------------ KV and Durable Objects (loader Worker)

async function inFlight<T>(items: T[], perRequest: number, parallel: number, send: (chunk: T[]) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const chunk = items.slice(next, next + perRequest);
      next += perRequest;
      await send(chunk);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

async function postOk(client: HttpClient, path: string, body: unknown): Promise<void> {
  const res = await client.post(path, body);
  if (res.status !== 200) throw new Error(`loader ${path} answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
}

/** Entity rows → FEATURES_KV (the rows are built lazily per chunk: a million rows do not sit in memory). */
export async function loadKv(
  loaderUrl: string,
  count: number,
  entityAt: (i: number) => LoadEntity,
  featuresPerVector: number,
  loadedAt: number,
  onProgress?: (done: number) => void,
): Promise<void> {
  const client = new HttpClient(loaderUrl, {}, KV_REQUESTS_IN_FLIGHT);
  let done = 0;
  try {
    const indexes = Array.from({ length: count }, (_, i) => i);
    await inFlight(indexes, KV_ROWS_PER_REQUEST, KV_REQUESTS_IN_FLIGHT, async (chunk) => {
      await postOk(client, "/kv", { rows: chunk.map((i) => kvRow(entityAt(i), featuresPerVector, loadedAt)) });
      done += chunk.length;
      onProgress?.(done);
    });
  } finally {
    client.close();
  }
}

/** Stream values → each entity's EntityState Durable Object (putFeatures, the same RPC ingest uses). */
export async function loadDurableObjects(
  loaderUrl: string,
  entities: LoadEntity[],
  featuresPerVector: number,
  loadedAt: number,
): Promise<void> {
  const client = new HttpClient(loaderUrl, {}, 2);
  try {
    await inFlight(entities, DO_OBJECTS_PER_REQUEST, 2, (chunk) =>
      postOk(client, "/do", {
        objects: chunk.map((e) => ({
          name: durableObjectName(e.type, e.id),
          writes: vectorValues(e.vector, e.n, featuresPerVector).map((v) => ({ ...v, eventTimestamp: eventTimestamp(loadedAt, e.n) })),
        })),
      }),
    );
  } finally {
    client.close();
  }
}

// ------------------------------------------------------------------ Redis

/** HSET per entity, fields "<tsMs>|<json>" exactly as RedisFeatureStore writes them. */
export async function loadRedis(
  redisUrl: string,
  prefix: string,
  count: number,
  entityAt: (i: number) => LoadEntity,
  featuresPerVector: number,
  loadedAt: number,
): Promise<void> {
  const r = await RespClient.connect(redisUrl);
  try {
    const indexes = Array.from({ length: count }, (_, i) => i);
    await inFlight(indexes, REDIS_COMMANDS_PER_WRITE, REDIS_WRITES_IN_FLIGHT, async (chunk) => {
      const commands: RedisCommand[] = chunk.map((i) => {
        const e = entityAt(i);
        const ts = eventTimestamp(loadedAt, e.n);
        const args = ["HSET", redisEntityKey(prefix, e.type, e.id)];
        for (const { name, value } of vectorValues(e.vector, e.n, featuresPerVector))
          args.push(name, encodeTimedValue({ value, eventTimestamp: ts }));
        return args;
      });
      await r.pipeline(commands);
    });
  } finally {
    r.close();
  }
}
