// bulk-load: N entities × 50 batch features through POST /ingest/push → feature-push Queue → consumer →
// every tier (Postgres feature_values + feature_latest, Redis, KV); timed until every tier holds every
// value, counted in each store. Feast's `feast materialize` of the same 100,000 × 50 here: 26–35 s.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { kvEntityKey, redisEntityKey } from "../../src/core/keys";
import { withPgClient } from "../../tools/postgres";
import { featureNames, featureValue, featureValueSql } from "../lib/dataset";
import { msSince, nowNs } from "../lib/http";
import { RespClient } from "../lib/resp";
import { round, type ScenarioResult, summarize } from "../lib/stats";
import type { BenchContext } from "./context";

const PUSH = "/ingest/push";
const FEATURES = 50;
/** Full run: the size (Feast's materialize comparison); --quick: a slice, the rate is what counts. */
const ENTITIES = { full: 100_000, quick: 2_000 } as const;
const UPDATES_PER_PUSH = 1_000;
const PUSH_CONCURRENCY = 4;
const POLL_MS = 500;
const VERIFY_POLL_MS = 5_000;
const TIMEOUT_MS = { full: 900_000, quick: 240_000 } as const;
/**
 * Entities in the Postgres floor: the same rows inserted by Postgres itself (INSERT … SELECT, no
 * client, no network, no Worker) into empty copies of feature_values and feature_latest with their
 * indexes, scaled to the run's size. Capped so the floor adds seconds, not minutes, to a full run.
 */
const FLOOR_ENTITIES = 20_000;
/** HLENs per Redis pipeline when counting, KV keys per list page. */
const REDIS_COUNT_CHUNK = 5_000;
const KV_LIST_LIMIT = 1_000;

async function pgCounts(db: pg.Client, like: string): Promise<{ values: number; latest: number; deadLetters: number }> {
  const res = await db.query<{ v: string; l: string; d: string }>(
    `select (select count(*) from feature_values where entity_id like $1)::text as v,
            (select count(*) from feature_latest where entity_id like $1)::text as l,
            (select count(*) from dead_letters)::text as d`,
    [like],
  );
  const r = res.rows[0]!;
  return { values: Number(r.v), latest: Number(r.l), deadLetters: Number(r.d) };
}

/** Values present in Redis over the entities (sum of HLEN; each field is one feature). */
async function redisValues(redis: RespClient, prefix: string, ids: string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < ids.length; i += REDIS_COUNT_CHUNK) {
    const replies = await redis.pipeline(ids.slice(i, i + REDIS_COUNT_CHUNK).map((id) => ["HLEN", redisEntityKey(prefix, "user", id)]));
    for (const r of replies) total += Number(r);
  }
  return total;
}

/** KV rows present for the run's entities (list by prefix), and the values in a sample of them. */
async function kvRows(ctx: BenchContext, keyPrefix: string): Promise<number> {
  const kv = await ctx.stack.mf.getKVNamespace("FEATURES_KV", "feature-ingest");
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix: keyPrefix, limit: KV_LIST_LIMIT, ...(cursor ? { cursor } : {}) });
    n += page.keys.length;
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return n;
}

async function kvSampleValues(ctx: BenchContext, ids: string[]): Promise<{ rows: number; values: number }> {
  const kv = await ctx.stack.mf.getKVNamespace("FEATURES_KV", "feature-ingest");
  const step = Math.max(1, Math.floor(ids.length / 200));
  let rows = 0;
  let values = 0;
  for (let i = 0; i < ids.length; i += step) {
    const row = (await kv.get(kvEntityKey("user", ids[i]!), "json")) as Record<string, unknown> | null;
    rows++;
    values += row ? Object.keys(row).length : 0;
  }
  return { rows, values };
}

interface IngestBatchLine {
  written: number;
  dead_lettered?: Record<string, number>;
  ms: number;
  retried: number;
  requeued?: number;
  phase_ms?: Record<string, number>;
}

/**
 * The consumer's own account of the run: its ingest_batch log lines on feature-push since `sinceIso`,
 * read as the stack log grows, from where the last read stopped. `read()` gives the messages acked as
 * written or dead-lettered and the newest line's time; `phases()` the batches, the wall time inside
 * the handler and per step (keys, postgres, redis, kv) the mean ms per batch, which isolates the local
 * KV simulator's share from our code's.
 */
class ConsumerLog {
  private offset = 0;
  private partial = "";
  private opened = false;
  private progress = { written: 0, deadLettered: 0, lastAt: "" };
  private batches = 0;
  private retried = 0;
  private requeued = 0;
  private handlerMs = 0;
  private readonly phase: Record<string, number> = {};

  constructor(
    private readonly path: string,
    private readonly sinceIso: string,
  ) {}

  read(): { written: number; deadLettered: number; lastAt: string } {
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch {
      return this.progress;
    }
    this.opened = true;
    try {
      const size = fstatSync(fd).size;
      if (size > this.offset) {
        const buf = Buffer.alloc(size - this.offset);
        readSync(fd, buf, 0, buf.length, this.offset);
        this.offset = size;
        const lines = (this.partial + buf.toString("utf8")).split("\n");
        this.partial = lines.pop() ?? "";
        for (const line of lines) this.add(line);
      }
    } finally {
      closeSync(fd);
    }
    return this.progress;
  }

  phases(): Record<string, number> {
    this.read();
    if (!this.opened) return {};
    const out: Record<string, number> = {
      consumer_batches: this.batches,
      consumer_retried: this.retried,
      consumer_requeued: this.requeued,
    };
    if (this.batches === 0) return out;
    out.consumer_batch_mean_ms = Math.round(this.handlerMs / this.batches);
    for (const [k, v] of Object.entries(this.phase)) out[`consumer_${k}_mean_ms`] = Math.round(v / this.batches);
    return out;
  }

  private add(line: string): void {
    if (!line.includes('"ingest_batch"') || !line.includes('"feature-push"')) return;
    const at = line.slice(0, this.sinceIso.length);
    if (at < this.sinceIso) return;
    let b: IngestBatchLine;
    try {
      b = JSON.parse(line.slice(line.indexOf("{"))) as IngestBatchLine;
    } catch {
      return; // A line cut by the log writer: skipped.
    }
    this.progress.written += b.written;
    for (const v of Object.values(b.dead_lettered ?? {})) this.progress.deadLettered += v;
    this.progress.lastAt = at;
    this.batches++;
    this.retried += b.retried;
    this.requeued += b.requeued ?? 0;
    this.handlerMs += b.ms;
    for (const [k, v] of Object.entries(b.phase_ms ?? {})) this.phase[k] = (this.phase[k] ?? 0) + v;
  }
}

/**
 * What Postgres alone needs for `entities` × FEATURES values: one statement into a copy of
 * feature_values (its four indexes, the same idempotency-key width) and one upsert into a copy of
 * feature_latest, on the bench database, the copies dropped after. Seconds for `entities`.
 */
async function postgresFloorSeconds(db: pg.Client, names: string[], entities: number): Promise<{ values_s: number; latest_s: number }> {
  const suffix = Date.now().toString(36);
  const values = `bench_floor_values_${suffix}`;
  const latest = `bench_floor_latest_${suffix}`;
  const rows = `from generate_series(0, ${entities * FEATURES - 1}) as g, lateral (select g / ${FEATURES} as e, g % ${FEATURES} as f) as x`;
  const name = `($1::text[])[1 + x.f]`;
  try {
    await db.query(`create table ${values} (like feature_values including all)`);
    await db.query(`create table ${latest} (like feature_latest including all)`);
    let t = nowNs();
    await db.query(
      `insert into ${values} (feature_name, entity_type, entity_id, feature_value, event_timestamp, idempotency_key)
       select ${name}, 'user', 'user_floor_' || x.e, ${featureValueSql("x.e", "x.f")}, now(), encode(sha256(g::text::bytea), 'hex') ${rows}`,
      [names],
    );
    const valuesMs = msSince(t);
    t = nowNs();
    await db.query(
      `insert into ${latest} as l (entity_type, entity_id, feature_name, feature_value, event_timestamp, ingested_at, tiebreak)
       select 'user', 'user_floor_' || x.e, ${name}, ${featureValueSql("x.e", "x.f")}, now(), now(), left(encode(sha256(g::text::bytea), 'hex'), 16) ${rows}
       on conflict (entity_type, entity_id, feature_name) do update
          set feature_value = excluded.feature_value, event_timestamp = excluded.event_timestamp, tiebreak = excluded.tiebreak
        where excluded.event_timestamp > l.event_timestamp`,
      [names],
    );
    return { values_s: valuesMs / 1000, latest_s: msSince(t) / 1000 };
  } finally {
    await db.query(`drop table if exists ${values}, ${latest}`);
  }
}

export async function bulkLoad(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ENTITIES[ctx.cfg.mode];
  const timeoutMs = TIMEOUT_MS[ctx.cfg.mode];
  const names = featureNames("userBatch", FEATURES);
  const tag = `user_bl_${Date.now().toString(36)}_`;
  const ids = Array.from({ length: n }, (_, i) => `${tag}${i}`);
  const eventTime = Date.now() - 60_000;
  const pushes = Array.from({ length: Math.ceil(n / UPDATES_PER_PUSH) }, (_, p) =>
    ids.slice(p * UPDATES_PER_PUSH, (p + 1) * UPDATES_PER_PUSH).map((id, k) => {
      const e = p * UPDATES_PER_PUSH + k + 1;
      return {
        entity_type: "user",
        entity_id: id,
        event_timestamp: eventTime,
        features: Object.fromEntries(names.map((f, j) => [f, featureValue(e, j)])),
      };
    }),
  );
  const expected = n * FEATURES;
  const redis = ctx.stack.redisUrl ? await RespClient.connect(ctx.stack.redisUrl) : undefined;
  try {
    return await withPgClient(ctx.stack.databaseUrl, async (db) => {
      const deadBefore = (await pgCounts(db, `${tag}%`)).deadLetters;
      const pushLatencies: number[] = [];
      let pushErrors = 0;
      const startedIso = new Date().toISOString();
      const started = nowNs();
      let next = 0;
      await Promise.all(
        Array.from({ length: PUSH_CONCURRENCY }, async () => {
          while (next < pushes.length) {
            const body = pushes[next++]!;
            const res = await ctx.ingest.post(PUSH, body).catch((err: unknown) => {
              ctx.log(`bulk-load push failed: ${err instanceof Error ? err.message : String(err)}`);
              return undefined;
            });
            if (res?.status === 202) pushLatencies.push(res.ms);
            else {
              pushErrors++;
              if (res) ctx.log(`bulk-load push answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
            }
          }
        }),
      );
      const pushedMs = msSince(started);
      // Done is when the consumer has acked every message as written (its ingest_batch log lines); each
      // tier is then counted once to prove it. Polling the tiers instead (HLEN per entity, KV list over
      // 100,000 keys, count(*) over 5M rows every half second) ran on the same two cores and on the
      // workerd thread the consumer and the KV simulator share, and slowed the load it measured ~3×.
      const consumer = new ConsumerLog(ctx.stack.logPath, startedIso);
      const doneAt: Record<"consumer" | "postgres" | "redis" | "kv", number | null> = {
        consumer: null,
        postgres: null,
        redis: null,
        kv: null,
      };
      let last = { values: 0, latest: 0, redis: 0, kvRows: 0 };
      while (msSince(started) < timeoutMs && doneAt.consumer === null) {
        const progress = consumer.read();
        if (progress.written + progress.deadLettered >= n) doneAt.consumer = Date.parse(progress.lastAt) - Date.parse(startedIso);
        else await sleep(POLL_MS);
      }
      // Counted once after the consumer is done, then every VERIFY_POLL_MS until each tier is whole.
      let firstCount = true;
      while (doneAt.postgres === null || doneAt.redis === null || doneAt.kv === null) {
        const [pgc, r, k] = await Promise.all([
          doneAt.postgres === null ? pgCounts(db, `${tag}%`) : undefined,
          redis && doneAt.redis === null ? redisValues(redis, ctx.stack.redisPrefix, ids) : undefined,
          doneAt.kv === null ? kvRows(ctx, kvEntityKey("user", tag)) : undefined,
        ]);
        // Whole at the first count: the consumer's last ack is the time; else when a count saw it whole.
        const t = firstCount && doneAt.consumer !== null ? doneAt.consumer : msSince(started);
        if (pgc) {
          last = { ...last, values: pgc.values, latest: pgc.latest };
          if (pgc.values >= expected && pgc.latest >= expected) doneAt.postgres = t;
        }
        if (r !== undefined) {
          last.redis = r;
          if (r >= expected) doneAt.redis = t;
        }
        if (!redis) doneAt.redis = 0;
        if (k !== undefined) {
          last.kvRows = k;
          if (k >= n) doneAt.kv = t;
        }
        if (doneAt.postgres !== null && doneAt.redis !== null && doneAt.kv !== null) break;
        if (msSince(started) >= timeoutMs) break;
        firstCount = false;
        await sleep(VERIFY_POLL_MS);
      }
      const allMs = Math.max(doneAt.postgres ?? timeoutMs, doneAt.redis ?? timeoutMs, doneAt.kv ?? timeoutMs);
      const sample = await kvSampleValues(ctx, ids);
      const floorEntities = Math.min(n, FLOOR_ENTITIES);
      const floor = await postgresFloorSeconds(db, names, floorEntities);
      const floorScaled = ((floor.values_s + floor.latest_s) * n) / floorEntities;
      const deadLetters = (await pgCounts(db, `${tag}%`)).deadLetters - deadBefore;
      const lost = expected - Math.min(last.values, last.latest, redis ? last.redis : expected);
      const result = summarize("bulk-load", pushLatencies, { errors: pushErrors, elapsedMs: pushedMs, requests: pushes.length });
      result.rps = round((n / allMs) * 1000, 0);
      result.errors = pushErrors + Math.max(0, lost) + (n - last.kvRows) + (sample.rows * FEATURES - sample.values) + deadLetters;
      result.extra = {
        entities: n,
        features: FEATURES,
        values: expected,
        push_requests: pushes.length,
        updates_per_push: UPDATES_PER_PUSH,
        push_accept_s: round(pushedMs / 1000, 2),
        consumer_done_s: doneAt.consumer === null ? null : round(doneAt.consumer / 1000, 2),
        postgres_all_s: doneAt.postgres === null ? null : round(doneAt.postgres / 1000, 2),
        redis_all_s: doneAt.redis === null ? null : round(doneAt.redis / 1000, 2),
        kv_all_s: doneAt.kv === null ? null : round(doneAt.kv / 1000, 2),
        all_tiers_s: round(allMs / 1000, 2),
        values_per_s: round((expected / allMs) * 1000, 0),
        feature_values_rows: last.values,
        feature_latest_rows: last.latest,
        redis_values: redis ? last.redis : null,
        kv_rows: last.kvRows,
        kv_sample_values: `${sample.values}/${sample.rows * FEATURES}`,
        lost: Math.max(0, lost),
        dead_letters: deadLetters,
        projected_100k_s: round((100_000 / n) * (allMs / 1000), 1),
        // Postgres's own time for the same rows (no client, network or Worker), from floor_entities scaled to entities.
        floor_entities: floorEntities,
        postgres_floor_values_s: round(floor.values_s, 2),
        postgres_floor_latest_s: round(floor.latest_s, 2),
        postgres_floor_s: round(floorScaled, 1),
        postgres_floor_100k_s: round((floorScaled * 100_000) / n, 1),
        all_tiers_vs_postgres_floor: round(allMs / 1000 / floorScaled, 2),
        ...consumer.phases(),
      };
      result.notes = `rps = entities/s (×${FEATURES} values) from the first push until Postgres, Redis and KV hold every value; p50/95/99 = POST /ingest/push (${UPDATES_PER_PUSH} updates); target ≤ 35 s for 100,000 × 50; postgres_floor_s = Postgres alone inserting the same rows (INSERT … SELECT into empty copies of both tables)`;
      return result;
    });
  } finally {
    redis?.close();
  }
}
