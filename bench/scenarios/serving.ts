// Read-path scenarios: bare Hono vs L0, one scenario per tier, batches, the cold-key stampede and the
// open-model Zipf mixed workload.
import { MEMORY_MAX_ENTRIES } from "../../src/stores/memory-cache";
import { BATCH_VECTOR_OF, type BenchEntityType, prng, ZipfSampler } from "../lib/dataset";
import { HttpClient } from "../lib/http";
import { openLoop, type RunOutcome, saturate, sequential, TIMER_SLACK_MS } from "../lib/runner";
import { percentile, round, type ScenarioResult, skipped, summarize, TierCounter } from "../lib/stats";
import { type BenchContext, expectServed, type FeatureResponseBody, parseBody } from "./context";

const GET = "/features/get";
const BATCH = "/features/batch";
/** Blocks bare-hono and l0-hit alternate in, so machine noise hits both alike. */
const INTERLEAVED_BLOCKS = 5;
/** Seeds: the same keys are drawn in every run. */
const SEED = { batch10: 10, batch100: 100, mixed: 1 };

function vectorRequest(ctx: BenchContext, entityId: string, type: BenchEntityType = "user", stream = false) {
  return { entity_id: entityId, feature_names: ctx.names[stream ? "userStream" : BATCH_VECTOR_OF[type]], include_metadata: true };
}

function withTiers(result: ScenarioResult, outcomeTiers: TierCounter): ScenarioResult {
  result.tiers = outcomeTiers.result();
  return result;
}

function logErrors(ctx: BenchContext, name: string, out: RunOutcome): void {
  if (out.errors) ctx.log(`${name}: ${out.errors} errors, e.g. ${out.errorSamples.join(" | ")}`);
}

/** bare-hono and l0-hit, interleaved, then each one's saturation throughput. */
export async function bareAndL0(ctx: BenchContext): Promise<{ bare: ScenarioResult; l0: ScenarioResult }> {
  const { cfg, sets } = ctx;
  const l0Tiers = new TierCounter();
  const l0Body = (i: number) => vectorRequest(ctx, sets.l0[i % sets.l0.length]!);
  // Warm: one read per entity puts its vector into L0 (from KV); then sockets and JIT on both Workers.
  for (const id of sets.l0) await ctx.serving.post(GET, vectorRequest(ctx, id));
  await sequential(ctx.bare, cfg.warmupRequests, GET, l0Body);
  await sequential(ctx.serving, cfg.warmupRequests, GET, l0Body);

  const bare: RunOutcome = { latencies: [], errors: 0, elapsedMs: 0, errorSamples: [] };
  const l0: RunOutcome = { latencies: [], errors: 0, elapsedMs: 0, errorSamples: [] };
  const merge = (into: RunOutcome, from: RunOutcome) => {
    into.latencies.push(...from.latencies);
    into.errors += from.errors;
    into.elapsedMs += from.elapsedMs;
    into.errorSamples.push(...from.errorSamples);
  };
  for (let b = 0; b < INTERLEAVED_BLOCKS; b++) {
    merge(bare, await sequential(ctx.bare, Math.ceil(cfg.requests.bare / INTERLEAVED_BLOCKS), GET, l0Body));
    merge(
      l0,
      await sequential(ctx.serving, Math.ceil(cfg.requests.l0 / INTERLEAVED_BLOCKS), GET, l0Body, (res) => {
        l0Tiers.addResponse(parseBody(res));
        return expectServed(res, "memory");
      }),
    );
  }
  logErrors(ctx, "bare-hono", bare);
  logErrors(ctx, "l0-hit", l0);
  const bareSat = await saturate(ctx.bare, cfg.saturationConcurrency, cfg.saturationSeconds, GET, l0Body);
  const l0Sat = await saturate(ctx.serving, cfg.saturationConcurrency, cfg.saturationSeconds, GET, l0Body);

  const bareResult = summarize("bare-hono", bare.latencies, { errors: bare.errors, elapsedMs: bare.elapsedMs });
  bareResult.extra = {
    saturation_rps: round((bareSat.latencies.length / bareSat.elapsedMs) * 1000, 0),
    saturation_concurrency: cfg.saturationConcurrency,
  };
  bareResult.notes = "Hono on the same workerd: parse body, return a fixed 50-feature vector with metadata";
  const l0Result = withTiers(summarize("l0-hit", l0.latencies, { errors: l0.errors, elapsedMs: l0.elapsedMs }), l0Tiers);
  l0Result.extra = {
    saturation_rps: round((l0Sat.latencies.length / l0Sat.elapsedMs) * 1000, 0),
    saturation_concurrency: cfg.saturationConcurrency,
    saturation_errors: l0Sat.errors,
  };
  l0Result.notes = `${sets.l0.length} warm entities × 50 batch features, cycled`;
  return { bare: bareResult, l0: l0Result };
}

/** Each request reads a distinct entity whose 50 features live only in `tier`. */
async function singleTier(
  ctx: BenchContext,
  name: string,
  tier: string,
  ids: string[],
  n: number,
  stream: boolean,
): Promise<ScenarioResult> {
  const warm = Math.min(ctx.cfg.warmupRequests, Math.max(0, ids.length - n), 50);
  const measured = ids.slice(warm, warm + n);
  await sequential(ctx.serving, warm, GET, (i) => vectorRequest(ctx, ids[i]!, "user", stream));
  const tiers = new TierCounter();
  const out = await sequential(
    ctx.serving,
    measured.length,
    GET,
    (i) => vectorRequest(ctx, measured[i]!, "user", stream),
    (res) => {
      tiers.addResponse(parseBody(res));
      return expectServed(res, tier);
    },
  );
  logErrors(ctx, name, out);
  const result = withTiers(summarize(name, out.latencies, { errors: out.errors, elapsedMs: out.elapsedMs }), tiers);
  result.notes = `${measured.length} distinct never-read entities, 50 ${stream ? "stream" : "batch"} features each, only in ${tier}`;
  return result;
}

export const kvHit = (ctx: BenchContext) => singleTier(ctx, "kv-hit", "kv", ctx.sets.kv, ctx.cfg.requests.kv, false);
export const doHit = (ctx: BenchContext) =>
  singleTier(ctx, "do-hit", "durable_object", ctx.sets.durableObject, ctx.cfg.requests.durableObject, true);
export const redisHit = (ctx: BenchContext) =>
  ctx.stack.redisUrl
    ? singleTier(ctx, "redis-hit", "redis", ctx.sets.redis, ctx.cfg.requests.redis, false)
    : Promise.resolve(skipped("redis-hit", "no Redis"));
export const postgresBackfill = (ctx: BenchContext) =>
  singleTier(ctx, "postgres-backfill", "postgres", ctx.sets.postgres, ctx.cfg.requests.postgres, false);

/** Batches of `size` distinct universe entities from the KV-materialized set, 50 batch features each. */
export async function batch(ctx: BenchContext, size: 10 | 100): Promise<ScenarioResult> {
  const name = `batch-${size}`;
  const n = size === 10 ? ctx.cfg.batches.size10 : ctx.cfg.batches.size100;
  const random = prng(size === 10 ? SEED.batch10 : SEED.batch100);
  const hot = Math.min(ctx.cfg.kvHotEntities, ctx.universe.size);
  const makeBatch = () => {
    const ranks = new Set<number>();
    while (ranks.size < size) ranks.add(1 + Math.floor(random() * hot));
    return [...ranks].map((r) => {
      const e = ctx.universe.byRank(r);
      return vectorRequest(ctx, e.id, e.type);
    });
  };
  await sequential(ctx.serving, Math.min(20, n), BATCH, () => makeBatch());
  const tiers = new TierCounter();
  const out = await sequential(
    ctx.serving,
    n,
    BATCH,
    () => makeBatch(),
    (res) => {
      tiers.addResponse(parseBody(res));
      return expectServed(res);
    },
  );
  logErrors(ctx, name, out);
  const result = withTiers(summarize(name, out.latencies, { errors: out.errors, elapsedMs: out.elapsedMs }), tiers);
  result.extra = { entities_per_second: round((out.latencies.length * size * 1000) / out.elapsedMs, 0) };
  result.notes = `${size} distinct entities drawn uniformly from the ${hot} KV-materialized ones, 50 batch features each`;
  return result;
}

async function backendReads(client: HttpClient): Promise<number> {
  const res = await client.get("/metrics");
  // One series per worker and colo since the MetricsHub adds up every isolate: their sum.
  const found = [...res.body.toString().matchAll(/^feature_backend_reads_total(?:\{[^}]*\})? (\d+)$/gm)];
  if (found.length === 0) throw new Error("GET /metrics has no feature_backend_reads_total");
  return found.reduce((n, m) => n + Number(m[1]), 0);
}

/** N concurrent requests for one cold key (Postgres only, the slowest tier); backend reads from /metrics. */
export async function stampede(ctx: BenchContext): Promise<ScenarioResult> {
  const { concurrency } = ctx.cfg.stampede;
  const client = new HttpClient(ctx.stack.urls.serving, { authorization: `Bearer ${ctx.stack.apiKey}` }, concurrency);
  const latencies: number[] = [];
  const readsPerKey: number[] = [];
  let errors = 0;
  try {
    const warmBody = JSON.stringify(vectorRequest(ctx, ctx.sets.l0[0]!));
    for (const id of ctx.sets.cold) {
      // Open all sockets first, so the stampede is N requests in flight, not N connects.
      await Promise.all(Array.from({ length: concurrency }, () => client.post(GET, warmBody)));
      const before = await backendReads(client);
      const payload = JSON.stringify(vectorRequest(ctx, id));
      const results = await Promise.allSettled(Array.from({ length: concurrency }, () => client.post(GET, payload)));
      for (const r of results) {
        const problem =
          r.status === "rejected"
            ? String(r.reason)
            : r.value.status !== 200
              ? `HTTP ${r.value.status}: ${r.value.body.toString().slice(0, 200)}`
              : expectServed(r.value);
        if (problem === undefined && r.status === "fulfilled") latencies.push(r.value.ms);
        else {
          errors++;
          if (errors <= 3) ctx.log(`stampede ${id}: ${problem}`);
        }
      }
      readsPerKey.push((await backendReads(client)) - before);
    }
  } finally {
    client.close();
  }
  const result = summarize("stampede", latencies, { errors, elapsedMs: 0 });
  result.rps = null;
  result.extra = {
    cold_keys: ctx.sets.cold.length,
    concurrent_requests_per_key: concurrency,
    backend_reads_per_key: readsPerKey,
    max_backend_reads_per_key: Math.max(...readsPerKey),
    isolates: 1,
  };
  result.notes = `${concurrency} concurrent requests per cold key (Postgres only); Miniflare runs one isolate, so this is per-isolate single-flight`;
  return result;
}

/** Zipf(s) keys over the whole universe at a fixed arrival rate; tier shares from response metadata. */
export async function mixedZipf(ctx: BenchContext): Promise<ScenarioResult> {
  const { mixed } = ctx.cfg;
  const zipf = new ZipfSampler(ctx.universe.size, mixed.zipfExponent, prng(SEED.mixed));
  const client = new HttpClient(ctx.stack.urls.serving, { authorization: `Bearer ${ctx.stack.apiKey}` }, 256);
  const body = () => {
    const e = ctx.universe.byRank(zipf.next());
    return vectorRequest(ctx, e.id, e.type);
  };
  try {
    await openLoop(client, mixed.ratePerSecond, mixed.warmupSeconds, GET, body);
    const tiers = new TierCounter();
    // Latency by the deepest tier a request needed: the p95 of a Zipf mix sits near the boundary
    // between requests answered from L0/L1 and the cold tail that falls through to Redis.
    const byDepth = { l0_l1: [] as number[], l2_or_below: [] as number[] };
    const out = await openLoop(client, mixed.ratePerSecond, mixed.seconds, GET, body, (res) => {
      const parsed = parseBody<FeatureResponseBody>(res);
      tiers.addResponse(parsed);
      const deep = Object.values(parsed.metadata ?? {}).some((m) => m.tier === "redis" || m.tier === "postgres");
      byDepth[deep ? "l2_or_below" : "l0_l1"].push(res.ms);
    });
    logErrors(ctx, "mixed-zipf", out);
    const result = withTiers(summarize("mixed-zipf", out.latencies, { errors: out.errors, elapsedMs: out.elapsedMs }), tiers);
    const l0Vectors = Math.floor(MEMORY_MAX_ENTRIES / ctx.cfg.featuresPerVector);
    result.extra = {
      target_rate: mixed.ratePerSecond,
      achieved_rate: round(out.achievedRate, 1),
      seconds: mixed.seconds,
      warmup_seconds: mixed.warmupSeconds,
      zipf_exponent: mixed.zipfExponent,
      universe_entities: ctx.universe.size,
      kv_materialized_entities: Math.min(ctx.cfg.kvHotEntities, ctx.universe.size),
      zipf_share_of_kv_materialized: round(zipf.headShare(ctx.cfg.kvHotEntities), 4),
      l0_capacity_vectors: l0Vectors,
      zipf_share_of_top_l0_capacity: round(zipf.headShare(l0Vectors), 4),
      // Tail over time: when the slow requests happened (periodic spikes point at a timer-driven cause).
      max_ms_by_second: maxBySecond(out.byRequest, mixed.ratePerSecond),
      latency_by_deepest_tier: Object.fromEntries(
        Object.entries(byDepth).map(([k, v]) => {
          const sorted = [...v].sort((a, b) => a - b);
          return [
            k,
            {
              requests: v.length,
              p50_ms: round(percentile(sorted, 50)),
              p95_ms: round(percentile(sorted, 95)),
              p99_ms: round(percentile(sorted, 99)),
            },
          ];
        }),
      ),
      send_lag_mean_ms: round(out.meanSendLagMs),
      send_lag_max_ms: round(out.maxSendLagMs),
      client_stalls: out.clientStalls,
    };
    result.notes = `open model, ${mixed.ratePerSecond}/s for ${mixed.seconds} s after ${mixed.warmupSeconds} s warm-up; a send later than ${TIMER_SLACK_MS} ms is timed from its schedule`;
    return result;
  } finally {
    client.close();
  }
}

function maxBySecond(byRequest: Float64Array, rate: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < byRequest.length; i++) {
    const sec = Math.floor(i / rate);
    const v = byRequest[i]!;
    if (!Number.isNaN(v)) out[sec] = Math.max(out[sec] ?? 0, Math.round(v * 10) / 10);
  }
  return Array.from(out, (v) => v ?? 0);
}
