// Baselines measured in the same run: the bare Hono Worker (the runtime floor) and Redis HMGET on loopback.

import { redisEntityKey } from "../../src/core/keys";
import { HEDGE_MIN_DELAY_MS } from "../../src/stores/hedge-policy";
import { BATCH_VECTOR_OF, benchRegistry, featureNames, prng } from "../lib/dataset";
import { HttpClient, type HttpResult, msSince, nowNs } from "../lib/http";
import { RespClient } from "../lib/resp";
import { sequential } from "../lib/runner";
import { type ScenarioResult, skipped, summarize } from "../lib/stats";
import { type BenchContext, expectServed } from "./context";

/** HMGET of the 50 fields of distinct Redis-loaded universe entities, one connection, one in flight. */
export async function redisHmget(ctx: BenchContext): Promise<ScenarioResult> {
  const { stack, cfg } = ctx;
  if (!stack.redisUrl) return skipped("redis-hmget", "no Redis (REDIS_URL unset and nothing on 127.0.0.1:6379)");
  const r = await RespClient.connect(stack.redisUrl);
  try {
    const n = cfg.requests.redisHmget;
    const keyOf = (i: number) => {
      const e = ctx.universe.bySlot(i % ctx.universe.size);
      return { key: redisEntityKey(stack.redisPrefix, e.type, e.id), fields: featureNames(BATCH_VECTOR_OF[e.type], cfg.featuresPerVector) };
    };
    for (let i = 0; i < cfg.warmupRequests; i++) {
      const { key, fields } = keyOf(n + i);
      await r.command("HMGET", key, ...fields);
    }
    const latencies: number[] = [];
    let errors = 0;
    const started = nowNs();
    for (let i = 0; i < n; i++) {
      const { key, fields } = keyOf(i);
      const t0 = nowNs();
      const reply = (await r.command("HMGET", key, ...fields)) as (Buffer | null)[];
      const ms = msSince(t0);
      if (reply.some((v) => v === null)) errors++;
      else latencies.push(ms);
    }
    const result = summarize("redis-hmget", latencies, { errors, elapsedMs: msSince(started) });
    result.notes = `raw RESP from Node, 1 connection, sequential; ${cfg.featuresPerVector} fields per HMGET`;
    return result;
  } finally {
    r.close();
  }
}

/**
 * Runtime floors for the KV tier: a single KV get and a 100-key bulk get issued by the loader Worker
 * in the same workerd (client → Worker → local KV simulator), nothing of the feature store around it.
 */
export async function kvFloors(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { cfg } = ctx;
  const hot = Math.min(cfg.kvHotEntities, ctx.universe.size);
  const key = (rank: number) => {
    const e = ctx.universe.byRank(rank);
    return `row:${e.type}:${e.id}`;
  };
  // Keys far down the hot set, so the serving scenarios' reads of the same rows do not interfere.
  const found = (want: number) => (res: HttpResult) => {
    const got = (JSON.parse(res.body.toString()) as { found: number }).found;
    return got === want ? undefined : `found ${got} of ${want} keys`;
  };
  const single = await sequential(ctx.loader, cfg.requests.kv, "/kv/get", (i) => ({ keys: [key(hot - i)] }), found(1));
  const singleResult = summarize("kv-get-floor", single.latencies, { errors: single.errors, elapsedMs: single.elapsedMs });
  singleResult.notes = "one KV get of a 50-feature row from a bare Worker (loader) in the same workerd";
  const n = cfg.batches.size100;
  let timerFirst = 0;
  const bulk = await sequential(
    ctx.loader,
    n,
    "/kv/get",
    (i) => ({ keys: Array.from({ length: 100 }, (_, k) => key(hot - cfg.requests.kv - i * 100 - k)), timerMs: HEDGE_MIN_DELAY_MS }),
    (res) => {
      if ((JSON.parse(res.body.toString()) as { timer_first?: boolean }).timer_first) timerFirst++;
      return found(100)(res);
    },
  );
  const bulkResult = summarize("kv-bulk-get-100-floor", bulk.latencies, { errors: bulk.errors, elapsedMs: bulk.elapsedMs });
  // Why hedging cannot act over the simulator here: a hedge is a timer, and the simulator runs on the same thread.
  bulkResult.extra = {
    timer_ms: HEDGE_MIN_DELAY_MS,
    timer_fired_before_answer: `${timerFirst}/${bulk.latencies.length}`,
  };
  bulkResult.notes = `one bulk get of 100 rows (KV's maximum per call) from a bare Worker in the same workerd; a ${HEDGE_MIN_DELAY_MS} ms timer set with each read fired before its answer in ${timerFirst} of ${bulk.latencies.length}`;
  return [singleResult, bulkResult];
}

/** A Durable Object read of 50 stream features by the loader Worker (no feature store): do-hit's floor. */
export async function doFloor(ctx: BenchContext): Promise<ScenarioResult> {
  const ids = ctx.sets.durableObjectFloor;
  const names = ctx.names.userStream;
  const warm = Math.min(50, ids.length);
  const body = (i: number) => ({ name: `user:${ids[i]!}`, features: names });
  await sequential(ctx.loader, warm, "/do/get", body);
  const out = await sequential(
    ctx.loader,
    ids.length - warm,
    "/do/get",
    (i) => body(warm + i),
    (res) => {
      const n = Object.keys(JSON.parse(res.body.toString()) as object).length;
      return n === names.length ? undefined : `found ${n} of ${names.length} features`;
    },
  );
  const result = summarize("do-get-floor", out.latencies, { errors: out.errors, elapsedMs: out.elapsedMs });
  result.notes = "getFeatures RPC of 50 stream features on a never-read EntityState, from a bare Worker in the same workerd";
  return result;
}

/** HMGET of 50 fields through the local Upstash REST gateway, fetched from a bare Worker: redis-hit's floor. */
export async function upstashFloor(ctx: BenchContext): Promise<ScenarioResult> {
  const { stack, cfg } = ctx;
  if (!stack.upstash) return skipped("upstash-hmget-floor", "no Redis");
  const n = cfg.requests.redis;
  const body = (i: number) => {
    const e = ctx.universe.bySlot((ctx.universe.size - 1 - i) % ctx.universe.size);
    return {
      ...stack.upstash,
      key: redisEntityKey(stack.redisPrefix, e.type, e.id),
      fields: featureNames(BATCH_VECTOR_OF[e.type], cfg.featuresPerVector),
    };
  };
  await sequential(ctx.loader, 50, "/upstash/hmget", (i) => body(n + i));
  const out = await sequential(ctx.loader, n, "/upstash/hmget", body, (res) => {
    const got = (JSON.parse(res.body.toString()) as { found: number }).found;
    return got === cfg.featuresPerVector ? undefined : `found ${got} of ${cfg.featuresPerVector} fields`;
  });
  const result = summarize("upstash-hmget-floor", out.latencies, { errors: out.errors, elapsedMs: out.elapsedMs });
  result.notes = "one HMGET of 50 fields via the Upstash REST gateway (Node child process) from a bare Worker";
  return result;
}

/** The bare Hono Worker answering a 100-entity batch with fixed vectors: batch-100's runtime floor. */
export async function bareBatch(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.cfg.batches.size100;
  const body = (i: number) =>
    Array.from({ length: 100 }, (_, k) => ({
      entity_id: `user_${i * 100 + k + 1}`,
      feature_names: ctx.names.userBatch,
      include_metadata: true,
    }));
  await sequential(ctx.bare, 20, "/features/batch", body);
  const out = await sequential(ctx.bare, n, "/features/batch", body);
  const result = summarize("bare-hono-batch-100", out.latencies, { errors: out.errors, elapsedMs: out.elapsedMs });
  result.notes = "bare Hono Worker: parse a 100-request batch, answer 100 fixed 50-feature vectors with metadata (same sizes as batch-100)";
  return result;
}

/** Users held by the in-memory-KV Worker (about 1.2 KB of JSON each). */
const MEMORY_KV_USERS = 20_000;

/**
 * batch-100 through the serving Worker's own code, with Workers KV replaced by rows in the isolate
 * (bench/workers/memory-kv-worker.ts): what our code costs for 100 × 50 on this workerd, without the
 * local KV simulator. Same request shape, same checks (every value PRESENT).
 */
export async function memoryKvBatch(ctx: BenchContext): Promise<ScenarioResult> {
  const { cfg } = ctx;
  const users = Math.min(MEMORY_KV_USERS, cfg.entities.user);
  const client = new HttpClient(ctx.stack.urls.memoryKv, { authorization: `Bearer ${ctx.stack.apiKey}` }, 1);
  try {
    const setup = await client.post("/setup", {
      registry: benchRegistry(cfg.featuresPerVector),
      loadedAt: ctx.loadedAt,
      featuresPerVector: cfg.featuresPerVector,
      entities: [{ type: "user", idPrefix: "user_", count: users, vector: "userBatch" }],
    });
    if (setup.status !== 200) throw new Error(`memory-kv setup answered ${setup.status}: ${setup.body.toString().slice(0, 200)}`);
    const random = prng(100);
    const body = () => {
      const ids = new Set<number>();
      while (ids.size < 100) ids.add(1 + Math.floor(random() * users));
      return [...ids].map((n) => ({ entity_id: `user_${n}`, feature_names: ctx.names.userBatch, include_metadata: true }));
    };
    const n = cfg.batches.size100;
    await sequential(client, Math.min(20, n), "/features/batch", body);
    const out = await sequential(client, n, "/features/batch", body, (res) =>
      res.status === 200 ? expectServed(res) : `HTTP ${res.status}`,
    );
    const result = summarize("batch-100-memory-kv", out.latencies, { errors: out.errors, elapsedMs: out.elapsedMs });
    result.notes = `batch-100 through the serving app (auth, zod, L0, tiers, assembly, JSON) with KV as ${users.toLocaleString("en-US")} rows in the isolate instead of the local KV simulator`;
    return result;
  } finally {
    client.close();
  }
}
