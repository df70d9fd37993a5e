// Hedged tier reads inside workerd: real KV made slow by an injected delay, hedged by real Postgres.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { ComputationType } from "../../src/core/definitions";
import type { TimedValue } from "../../src/core/keys";
import type { EntityRef, OnlineStore, OnlineWrite } from "../../src/core/online-store";
import { ServingMetrics } from "../../src/serving/metrics";
import { BREAKER_FAILURE_THRESHOLD } from "../../src/stores/circuit-breaker";
import type { HedgeOptions } from "../../src/stores/hedge-policy";
import { KvFeatureStore } from "../../src/stores/kv-store";
import { MemoryCache } from "../../src/stores/memory-cache";
import { PostgresFeatureStore } from "../../src/stores/postgres-store";
import { TieredFeatureStore } from "../../src/stores/tiered-feature-store";
import { pgConfig, publishRegistry, putKvRow, putLatest, registry, uniqueId } from "./support";

const HOUR = 3_600_000;
const FEATURE = "listening_hours_weekly";
/**
 * Well above the local KV's p95 and Postgres' read time even on a busy machine (at 120 ms, Postgres
 * under the load of a parallel bench sometimes answered later), well below the test tier's deadline.
 */
const SLOW_MS = 600;
/** SlowKv's deadline: a slow read is waited for, not abandoned (KV's own 150 ms would cut it off). */
const SLOW_KV_DEADLINE_MS = 2_000;
const WARM_READS = 40;

/** The real KV tier with a delay before each read (a fault real KV cannot be made to show on demand). */
class SlowKv implements OnlineStore {
  private readonly inner = new KvFeatureStore(env.FEATURES_KV);
  readonly tier = this.inner.tier;
  readonly serves: ReadonlySet<ComputationType> = this.inner.serves;
  readonly deadlineMs = SLOW_KV_DEADLINE_MS;
  delayMs = 0;
  reads = 0;
  readonly writes: OnlineWrite[] = [];

  async read(refs: readonly EntityRef[], features: readonly (readonly string[])[]): Promise<Record<string, TimedValue>[]> {
    this.reads++;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    return this.inner.read(refs, features);
  }

  ping() {
    return this.inner.ping();
  }

  writeIfNewer(entries: readonly OnlineWrite[]) {
    this.writes.push(...entries);
    return this.inner.writeIfNewer(entries);
  }
}

const def = () => registry().resolve(FEATURE)!;

function setUp(hedge: HedgeOptions = {}) {
  const kv = new SlowKv();
  const postgres = new PostgresFeatureStore(pgConfig());
  const pending: Promise<unknown>[] = [];
  const store = new TieredFeatureStore([[kv], [postgres]], new MemoryCache(), {
    kvWriteBack: "on",
    hedge: { minSamples: WARM_READS, ...hedge },
  });
  const read = async (entityId: string, maxAgeMs = 12 * HOUR) => {
    const started = performance.now();
    const [found] = await store.read([{ entityType: "user", entityId, features: [def()] }], {
      maxAgeMs: () => maxAgeMs,
      waitUntil: (p) => pending.push(p),
    });
    return { found: found!.get(FEATURE)!, ms: performance.now() - started };
  };
  /** Fills KV's latency window with fast reads, so its hedge delay is its real (fast) p95. */
  const warm = async () => {
    for (let i = 0; i < WARM_READS; i++) await read(uniqueId("user_warm_"));
  };
  const settle = () => Promise.all(pending.splice(0));
  return { kv, store, read, warm, settle };
}

/** A user whose value is in both KV and Postgres (KV's copy with the given age). */
async function userInBoth(value: number, kvAgeMs = HOUR, pgAgeMs = HOUR): Promise<string> {
  const user = uniqueId("user_");
  const now = Date.now();
  await putKvRow("user", user, { [FEATURE]: [now - kvAgeMs, value] });
  await putLatest("user", user, FEATURE, value, now - pgAgeMs);
  return user;
}

beforeAll(async () => {
  await publishRegistry();
});

describe("hedged tier reads", () => {
  it("a KV read slower than its p95 is hedged by Postgres, which answers first; metrics count the hedge and the win", async () => {
    const { kv, store, read, warm, settle } = setUp();
    await warm();
    const user = await userInBoth(0.5);
    kv.delayMs = SLOW_MS;
    const { found, ms } = await read(user);
    expect(found).toMatchObject({ tier: "postgres", value: { value: 0.5 } });
    expect(ms).toBeLessThan(SLOW_MS);
    expect(store.hedge!.hedgeCounts()).toEqual([{ tier: "kv", hedgeTier: "postgres", sent: 1, won: 1 }]);
    const text = new ServingMetrics().render(store, null);
    expect(text).toContain('feature_hedged_reads_total{tier="kv",hedge_tier="postgres"} 1');
    expect(text).toContain('feature_hedged_read_wins_total{tier="kv",hedge_tier="postgres"} 1');
    // The slow KV answer is dropped: the Postgres value is written back to KV once, not twice.
    await new Promise((r) => setTimeout(r, SLOW_MS));
    await settle();
    expect(kv.writes.filter((w) => w.ref.entityId === user)).toHaveLength(1);
  });

  it("a fast KV read is not hedged", async () => {
    const { store, read, warm } = setUp();
    await warm();
    const { found } = await read(await userInBoth(0.25));
    expect(found.tier).toBe("kv");
    expect(store.hedge!.hedgeCounts()).toEqual([]);
  });

  it("a hedged answer obeys max age: a stale Postgres value does not win, the slow KV's fresh one is served", async () => {
    const { kv, store, read, warm } = setUp();
    await warm();
    const user = await userInBoth(0.75, HOUR, 48 * HOUR);
    kv.delayMs = SLOW_MS;
    const { found, ms } = await read(user);
    expect(found).toMatchObject({ tier: "kv", value: { value: 0.75 } });
    expect(ms).toBeGreaterThanOrEqual(SLOW_MS - 5);
    expect(store.hedge!.hedgeCounts()).toEqual([{ tier: "kv", hedgeTier: "postgres", sent: 1, won: 0 }]);
  });

  it("the token bucket caps hedges: with room for two, the third slow read waits for KV", async () => {
    const { kv, store, read, warm } = setUp({ burst: 2, rate: 0 });
    await warm();
    kv.delayMs = SLOW_MS;
    const tiers: (string | null)[] = [];
    for (let i = 0; i < 4; i++) tiers.push((await read(await userInBoth(i))).found.tier);
    expect(tiers).toEqual(["postgres", "postgres", "kv", "kv"]);
    expect(store.hedge!.hedgeCounts()[0]).toMatchObject({ sent: 2, won: 2 });
    expect(store.hedge!.capped).toBe(2);
    expect(new ServingMetrics().render(store, null)).toContain("feature_hedges_capped_total 2");
  });

  it("never hedges into a tier whose breaker is open", async () => {
    const { kv, store, read, warm } = setUp();
    await warm();
    for (let i = 0; i < BREAKER_FAILURE_THRESHOLD; i++) store.breakers.postgres!.failure();
    expect(store.breakers.postgres!.state).toBe("open");
    kv.delayMs = SLOW_MS;
    const { found } = await read(await userInBoth(0.125));
    expect(found).toMatchObject({ tier: "kv", value: { value: 0.125 } });
    expect(store.hedge!.hedgeCounts()).toEqual([]);
  });

  it("is off with hedge: false (the bench's same-run baseline)", async () => {
    const kv = new SlowKv();
    const store = new TieredFeatureStore([[kv], [new PostgresFeatureStore(pgConfig())]], new MemoryCache(), { hedge: false });
    expect(store.hedge).toBeUndefined();
    const user = await userInBoth(1);
    kv.delayMs = SLOW_MS;
    const [found] = await store.read([{ entityType: "user", entityId: user, features: [def()] }], {
      maxAgeMs: () => 12 * HOUR,
      waitUntil: () => {},
    });
    expect(found!.get(FEATURE)!.tier).toBe("kv");
  });
});
