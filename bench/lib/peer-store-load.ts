// Loads the comparison's users into our tiers as ingest and materialization leave them: Postgres
// feature_latest (the source of truth), a Redis hash per user (L2) and a KV row per user (L1).
import type { RedisCommand } from "../../dev/upstash-gateway";
import { encodeTimedValue, redisEntityKey } from "../../src/core/keys";
import { withPgClient } from "../../tools/postgres";
import { eventTimestamp } from "./dataset";
import { HttpClient } from "./http";
import { PEER_ENTITY_TYPE, peerFeatureNames, peerKvRow, peerUserId, peerValue, peerValueSql } from "./peer-dataset";
import { RespClient } from "./resp";

/** Rows per loader request and requests in flight (the local KV simulator is one Durable Object). */
const KV_ROWS_PER_REQUEST = 500;
const KV_REQUESTS_IN_FLIGHT = 2;
/** HSETs per pipelined write. */
const REDIS_COMMANDS_PER_WRITE = 500;
/** Users per INSERT … SELECT (two connections), so one statement never holds 5 M rows in one transaction. */
const PG_USERS_PER_INSERT = 10_000;

function chunks(total: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let from = 0; from < total; from += size) out.push([from, Math.min(total, from + size)]);
  return out;
}

async function parallel<T>(items: T[], workers: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

export async function loadPeerKv(loaderUrl: string, users: number, loadedAt: number): Promise<void> {
  const client = new HttpClient(loaderUrl, {}, KV_REQUESTS_IN_FLIGHT);
  try {
    await parallel(chunks(users, KV_ROWS_PER_REQUEST), KV_REQUESTS_IN_FLIGHT, async ([from, to]) => {
      const rows = Array.from({ length: to - from }, (_, k) => peerKvRow(from + k, loadedAt));
      const res = await client.post("/kv", { rows });
      if (res.status !== 200) throw new Error(`loader /kv answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
    });
  } finally {
    client.close();
  }
}

/** HSET per user, fields "<tsMs>|<json>" exactly as RedisFeatureStore writes them. */
export async function loadPeerRedis(redisUrl: string, prefix: string, users: number, loadedAt: number): Promise<void> {
  const names = peerFeatureNames();
  const r = await RespClient.connect(redisUrl);
  try {
    for (const [from, to] of chunks(users, REDIS_COMMANDS_PER_WRITE)) {
      const commands: RedisCommand[] = [];
      for (let i = from; i < to; i++) {
        const ts = eventTimestamp(loadedAt, i);
        const args = ["HSET", redisEntityKey(prefix, PEER_ENTITY_TYPE, peerUserId(i))];
        names.forEach((name, f) => {
          args.push(name, encodeTimedValue({ value: peerValue(i, f), eventTimestamp: ts }));
        });
        commands.push(args);
      }
      await r.pipeline(commands);
    }
  } finally {
    r.close();
  }
}

/** feature_latest rows, computed by Postgres itself (peerValueSql is peerValue in SQL). */
export async function loadPeerPostgres(databaseUrl: string, users: number, loadedAt: number): Promise<number> {
  let rows = 0;
  await parallel(chunks(users, PG_USERS_PER_INSERT), 2, (range) =>
    withPgClient(databaseUrl, async (c) => {
      await c.query("set synchronous_commit = off");
      // The value expression relies on float8's shortest round-trip text (the default since Postgres 12).
      await c.query("set extra_float_digits = 1");
      const res = await c.query(
        `insert into feature_latest (entity_type, entity_id, feature_name, feature_value, event_timestamp, ingested_at)
         select $1::text, 'user_' || i::text, 'f' || f::text, ${peerValueSql("i", "f")},
                to_timestamp(($2::bigint - (i % 3600) * 1000) / 1000.0), now()
           from generate_series($3::int, $4::int - 1) i, generate_series(0, $5::int - 1) f
         on conflict do nothing`,
        [PEER_ENTITY_TYPE, loadedAt, range[0], range[1], peerFeatureNames().length],
      );
      rows += res.rowCount ?? 0;
    }),
  );
  return rows;
}

/** Postgres' values for a few users, for the check that the SQL and the JS compute the same. */
export async function readPeerPostgres(databaseUrl: string, ids: readonly string[]): Promise<Map<string, unknown>> {
  return withPgClient(databaseUrl, async (c) => {
    const res = await c.query<{ entity_id: string; feature_name: string; feature_value: unknown }>(
      "select entity_id, feature_name, feature_value from feature_latest where entity_type = $1 and entity_id = any($2::text[]) and feature_name ~ '^f[0-9]+$'",
      [PEER_ENTITY_TYPE, ids],
    );
    return new Map(res.rows.map((r) => [`${r.entity_id}|${r.feature_name}`, r.feature_value]));
  });
}
