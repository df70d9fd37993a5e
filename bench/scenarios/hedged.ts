// hedged-batch-100: batch-100 over a KV that is slow for a seeded share of reads, hedging on vs off in
// one run, interleaved; and the same over the local KV simulator's own bulk-get tail (KV → Redis).
import { BATCH_VECTOR_OF, benchRegistry, prng } from "../lib/dataset";
import { HttpClient } from "../lib/http";
import { type RunOutcome, sequential } from "../lib/runner";
import { round, type ScenarioResult, skipped, summarize, TierCounter } from "../lib/stats";
import { type BenchContext, expectServed, parseBody } from "./context";

/** Share of KV reads the in-memory KV delays (under 5 %, so KV's p95, the hedge delay, stays fast). */
export const HEDGED_SLOW_SHARE = 0.03;
/**
 * The injected delay, about KV's cold-read p99 outside the Americas (~250 ms), and well above the
 * in-memory KV's p95 even on a busy machine (the slow variants' KV deadline is SLOW_KV_DEADLINE_MS).
 */
export const HEDGED_SLOW_MS = 300;
const SEED = { slow: 18, bodies: 1800 };
/** Rounds the variants alternate in, so machine noise hits on and off alike. */
const ROUNDS = 4;
/** At least this many requests per variant: the p99 of fewer says little about a 3 % tail. */
const MIN_REQUESTS = 200;
const WARMUP = 30;
/** Users held by the in-memory KV (as batch-100-memory-kv). */
const USERS = 20_000;

type Variant = "slow-on" | "slow-off" | "sim-on" | "sim-off";
const ROW_NAME: Record<Variant, string> = {
  "slow-on": "hedged-batch-100",
  "slow-off": "hedged-batch-100-off",
  "sim-on": "hedged-batch-100-kvsim",
  "sim-off": "hedged-batch-100-kvsim-off",
};

interface Hedges {
  sent: number;
  won: number;
  capped: number;
}

/** This variant's hedges from its own /metrics (each variant has its own store). */
async function hedgeCounts(client: HttpClient, variant: Variant): Promise<Hedges> {
  const text = (await client.get(`/hedged/${variant}/metrics`)).body.toString();
  const sum = (family: string) =>
    [...text.matchAll(new RegExp(`^${family}(?:\\{[^}]*\\})? (\\d+)$`, "gm"))].reduce((n, m) => n + Number(m[1]), 0);
  return {
    sent: sum("feature_hedged_reads_total"),
    won: sum("feature_hedged_read_wins_total"),
    capped: sum("feature_hedges_capped_total"),
  };
}

export async function hedgedBatch(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { cfg, stack } = ctx;
  if (!stack.upstash) return [skipped("hedged-batch-100", "no Redis: the hedge target is Redis")];
  const users = Math.min(USERS, cfg.entities.user);
  const hot = Math.min(cfg.kvHotEntities, ctx.universe.size);
  const client = new HttpClient(stack.urls.memoryKv, { authorization: `Bearer ${stack.apiKey}` }, 1);
  try {
    const setup = await client.post("/setup", {
      registry: benchRegistry(cfg.featuresPerVector),
      loadedAt: ctx.loadedAt,
      featuresPerVector: cfg.featuresPerVector,
      entities: [{ type: "user", idPrefix: "user_", count: users, vector: "userBatch" }],
      hedged: {
        slowShare: HEDGED_SLOW_SHARE,
        slowMs: HEDGED_SLOW_MS,
        seed: SEED.slow,
        redis: { url: stack.upstash.url, token: stack.upstash.token, keyPrefix: stack.redisPrefix },
      },
    });
    if (setup.status !== 200) throw new Error(`hedged setup answered ${setup.status}: ${setup.body.toString().slice(0, 200)}`);
    const n = Math.max(MIN_REQUESTS, cfg.batches.size100);
    // The same bodies for on and off: one seeded sequence per KV kind.
    const slowBodies = (() => {
      const random = prng(SEED.bodies);
      return Array.from({ length: n + WARMUP }, () => {
        const ids = new Set<number>();
        while (ids.size < 100) ids.add(1 + Math.floor(random() * users));
        return [...ids].map((k) => ({ entity_id: `user_${k}`, feature_names: ctx.names.userBatch, include_metadata: true }));
      });
    })();
    const simBodies = (() => {
      const random = prng(SEED.bodies + 1);
      return Array.from({ length: n + WARMUP }, () => {
        const ranks = new Set<number>();
        while (ranks.size < 100) ranks.add(1 + Math.floor(random() * hot));
        return [...ranks].map((r) => {
          const e = ctx.universe.byRank(r);
          return { entity_id: e.id, feature_names: ctx.names[BATCH_VECTOR_OF[e.type]], include_metadata: true };
        });
      });
    })();
    const variants: Variant[] = ["slow-on", "slow-off", "sim-on", "sim-off"];
    const bodiesOf = (v: Variant) => (v.startsWith("slow") ? slowBodies : simBodies);
    const outcomes = new Map<Variant, RunOutcome>();
    const tiers = new Map<Variant, TierCounter>();
    for (const v of variants) {
      // Warm-up also fills the KV tier's latency window (the hedge needs 20 reads before it hedges).
      await sequential(client, WARMUP, `/hedged/${v}/features/batch`, (i) => bodiesOf(v)[n + i]);
      outcomes.set(v, { latencies: [], errors: 0, elapsedMs: 0, errorSamples: [] });
      tiers.set(v, new TierCounter());
    }
    const perRound = Math.ceil(n / ROUNDS);
    for (let r = 0; r < ROUNDS; r++) {
      // On first in even rounds, off first in odd ones: neither always runs right after the other.
      const order = r % 2 === 0 ? variants : (["slow-off", "slow-on", "sim-off", "sim-on"] as Variant[]);
      for (const v of order) {
        const from = r * perRound;
        const count = Math.min(perRound, n - from);
        const out = await sequential(
          client,
          count,
          `/hedged/${v}/features/batch`,
          (i) => bodiesOf(v)[from + i],
          (res) => {
            tiers.get(v)!.addResponse(parseBody(res));
            return expectServed(res);
          },
        );
        const into = outcomes.get(v)!;
        into.latencies.push(...out.latencies);
        into.errors += out.errors;
        into.elapsedMs += out.elapsedMs;
        into.errorSamples.push(...out.errorSamples);
      }
    }
    const results: ScenarioResult[] = [];
    for (const v of variants) {
      const out = outcomes.get(v)!;
      if (out.errors) ctx.log(`${ROW_NAME[v]}: ${out.errors} errors, e.g. ${out.errorSamples.join(" | ")}`);
      const result = summarize(ROW_NAME[v], out.latencies, { errors: out.errors, elapsedMs: out.elapsedMs });
      result.tiers = tiers.get(v)!.result();
      const hedges = await hedgeCounts(client, v);
      const requests = n + WARMUP;
      result.extra = { hedges, hedged_share_of_requests: round(hedges.sent / requests, 3) };
      result.notes = v.startsWith("slow")
        ? `batch-100 over ${users.toLocaleString("en-US")} users in an in-memory KV that delays ${HEDGED_SLOW_SHARE * 100} % of reads (seeded) by ${HEDGED_SLOW_MS} ms, Redis below; hedging ${v.endsWith("on") ? "on" : "off"}`
        : `batch-100 over the local KV simulator (its own bulk-get tail), Redis below; hedging ${v.endsWith("on") ? "on" : "off"}`;
      results.push(result);
    }
    // Ratios on/off of the same run, on the row that shows hedging on.
    for (const [on, off] of [
      [0, 1],
      [2, 3],
    ] as const) {
      const a = results[on]!;
      const b = results[off]!;
      const ratio = (x: number | null, y: number | null) => (x !== null && y ? round(x / y, 2) : null);
      a.extra = { ...a.extra, vs_off: { p50: ratio(a.p50_ms, b.p50_ms), p95: ratio(a.p95_ms, b.p95_ms), p99: ratio(a.p99_ms, b.p99_ms) } };
    }
    return results;
  } finally {
    client.close();
  }
}
