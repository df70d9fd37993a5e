// The tiered store as a loop over the tier port: read order by level, freshness, write-back to the
// writable tiers above that hold the type, breakers, and a tier added without touching the store.
import { describe, expect, it } from "vitest";
import { type ComputationType, FeatureDefinition } from "../../src/core/definitions";
import { entityMapKey, isNewer, type TimedValue } from "../../src/core/keys";
import type { EntityRef, OnlineStore, OnlineStoreReader, OnlineWrite, StoredTier } from "../../src/core/online-store";
import { BREAKER_FAILURE_THRESHOLD } from "../../src/stores/circuit-breaker";
import { MemoryCache } from "../../src/stores/memory-cache";
import { type Lookup, TieredFeatureStore } from "../../src/stores/tiered-feature-store";

const HOUR = 3_600_000;
const NOW = 1_000 * HOUR;

const def = (name: string, computation_type: ComputationType) =>
  FeatureDefinition.parse({
    name,
    group: "g",
    entity_type: "user",
    feature_type: "numerical",
    computation_type,
    update_frequency: computation_type === "stream" ? "realtime" : "1d",
    owner: "ml@echotune.fm",
    description: "test feature",
    retention_days: 30,
    ttl_seconds: 86_400,
    ...(computation_type === "batch" ? { source_query: "select 1" } : {}),
  });

const batchF = def("batch_f", "batch");
const streamF = def("stream_f", "stream");

/** An OnlineStore over a Map: reads and writes are recorded; `down` makes every call reject. */
class MapStore implements OnlineStore {
  readonly rows = new Map<string, Record<string, TimedValue>>();
  readonly reads: string[][] = [];
  readonly writes: OnlineWrite[] = [];
  down = false;
  readonly serves: ReadonlySet<ComputationType>;
  readonly deadlineMs = 50;

  constructor(
    readonly tier: StoredTier,
    serves: ComputationType[],
  ) {
    this.serves = new Set(serves);
  }

  put(id: string, values: Record<string, TimedValue>) {
    this.rows.set(entityMapKey("user", id), { ...this.rows.get(entityMapKey("user", id)), ...values });
  }

  async ping() {
    return undefined;
  }

  async read(refs: readonly EntityRef[], features: readonly (readonly string[])[]) {
    if (this.down) throw new Error(`${this.tier} down`);
    this.reads.push(...features.map((f) => [...f]));
    return refs.map((r, i) => {
      const row = this.rows.get(entityMapKey(r.entityType, r.entityId)) ?? {};
      const out: Record<string, TimedValue> = {};
      for (const f of features[i] ?? []) if (row[f]) out[f] = row[f];
      return out;
    });
  }

  async writeIfNewer(entries: readonly OnlineWrite[]) {
    if (this.down) throw new Error(`${this.tier} down`);
    return entries.map((e) => {
      this.writes.push(e);
      const key = entityMapKey(e.ref.entityType, e.ref.entityId);
      const row = { ...this.rows.get(key) };
      const changed = Object.keys(e.values).filter((n) => isNewer(e.values[n]!, row[n]));
      for (const n of changed) row[n] = e.values[n]!;
      this.rows.set(key, row);
      return changed;
    });
  }
}

/** The same, without writes (like Postgres, the source of truth). */
class ReadOnlyStore implements OnlineStoreReader {
  readonly inner: MapStore;
  constructor(
    readonly tier: StoredTier,
    serves: ComputationType[],
  ) {
    this.inner = new MapStore(tier, serves);
  }
  get serves() {
    return this.inner.serves;
  }
  readonly deadlineMs = 50;
  ping() {
    return this.inner.ping();
  }
  read(refs: readonly EntityRef[], features: readonly (readonly string[])[]) {
    return this.inner.read(refs, features);
  }
}

const pending: Promise<unknown>[] = [];
const opts = { maxAgeMs: (d: FeatureDefinition) => d.ttl_seconds * 1000, waitUntil: (p: Promise<unknown>) => void pending.push(p) };
const lookup = (id: string, features = [batchF, streamF]): Lookup => ({ entityType: "user", entityId: id, features });
const tv = (value: unknown, ageMs = HOUR): TimedValue => ({ value, eventTimestamp: NOW - ageMs });
const settle = () => Promise.all(pending.splice(0));

function world() {
  const kv = new MapStore("kv", ["batch"]);
  const durable = new MapStore("durable_object", ["stream"]);
  const redis = new MapStore("redis", ["batch", "stream"]);
  const postgres = new ReadOnlyStore("postgres", ["batch", "stream"]);
  const store = new TieredFeatureStore([[kv, durable], [redis], [postgres]], new MemoryCache(), {
    kvWriteBack: "on",
    now: () => NOW,
  });
  return { kv, durable, redis, postgres, store };
}

describe("TieredFeatureStore over the tier port", () => {
  it("reads each level only for what the levels above did not answer fresh, each tier only for the types it serves", async () => {
    const { kv, durable, redis, postgres, store } = world();
    kv.put("u1", { batch_f: tv(1) });
    redis.put("u1", { stream_f: tv(2) });
    const [found] = await store.read([lookup("u1")], opts);
    expect(found!.get("batch_f")).toEqual({ value: tv(1), tier: "kv" });
    expect(found!.get("stream_f")).toEqual({ value: tv(2), tier: "redis" });
    expect(kv.reads).toEqual([["batch_f"]]);
    expect(durable.reads).toEqual([["stream_f"]]);
    expect(redis.reads).toEqual([["stream_f"]]);
    expect(postgres.inner.reads).toEqual([]);
  });

  it("a stale value in an upper tier is passed over for a fresher one below, and written back", async () => {
    const { kv, redis, postgres, store } = world();
    kv.put("u2", { batch_f: tv("stale", 2 * 86_400_000) });
    postgres.inner.put("u2", { batch_f: tv("fresh") });
    const [found] = await store.read([lookup("u2", [batchF])], opts);
    expect(found!.get("batch_f")).toEqual({ value: tv("fresh"), tier: "postgres" });
    expect(redis.reads).toEqual([["batch_f"]]);
    await settle();
    // Filled above: KV (holds batch) and Redis; the Durable Object holds only stream features.
    expect(kv.rows.get(entityMapKey("user", "u2"))).toEqual({ batch_f: tv("fresh") });
    expect(redis.rows.get(entityMapKey("user", "u2"))).toEqual({ batch_f: tv("fresh") });
  });

  it("writes a value back only to writable tiers above the one that served it and that hold its type", async () => {
    const { kv, durable, redis, store } = world();
    redis.put("u3", { stream_f: tv(7), batch_f: tv(8) });
    await store.read([lookup("u3")], opts);
    await settle();
    expect(durable.writes).toEqual([{ ref: { entityType: "user", entityId: "u3" }, values: { stream_f: tv(7) } }]);
    expect(kv.writes).toEqual([{ ref: { entityType: "user", entityId: "u3" }, values: { batch_f: tv(8) } }]);
    expect(redis.writes).toEqual([]);
    // The second read is answered by L0.
    const [again] = await store.read([lookup("u3")], opts);
    expect(again!.get("stream_f")?.tier).toBe("memory");
  });

  it("skips a tier that fails, counts it, opens its breaker, and answers from the next level", async () => {
    const { kv, redis, postgres, store } = world();
    kv.down = true;
    redis.put("u4", { batch_f: tv(4) });
    for (let i = 0; i < BREAKER_FAILURE_THRESHOLD; i++) {
      const [found] = await store.read([lookup(`u4_${i}`, [batchF])], opts);
      expect(found!.get("batch_f")).toEqual({ value: undefined, tier: null });
    }
    expect(store.counters.errors.kv).toBe(BREAKER_FAILURE_THRESHOLD);
    expect(store.breakers.kv?.state).toBe("open");
    const [found] = await store.read([lookup("u4", [batchF])], opts);
    expect(found!.get("batch_f")).toEqual({ value: tv(4), tier: "redis" });
    // Open: not even tried, so no new error; and no write-back into an open tier.
    expect(store.counters.errors.kv).toBe(BREAKER_FAILURE_THRESHOLD);
    await settle();
    expect(postgres.inner.writes).toEqual([]);
  });

  it("reports unavailable when no tier answered at all", async () => {
    const { kv, durable, redis, postgres, store } = world();
    kv.down = durable.down = redis.down = postgres.inner.down = true;
    const [found] = await store.read([lookup("u5")], opts);
    expect(found!.get("batch_f")).toEqual({ value: undefined, tier: null, unavailable: true });
  });

  it("takes a new tier as one more level, with no change to the store", async () => {
    const near = new MapStore("kv", ["batch"]);
    const far = new MapStore("redis", ["batch"]);
    const farther = new MapStore("postgres", ["batch"]);
    farther.put("u6", { batch_f: tv(6) });
    const store = new TieredFeatureStore([[near], [far], [farther]], new MemoryCache(), { kvWriteBack: "on", now: () => NOW });
    const [found] = await store.read([lookup("u6", [batchF])], opts);
    expect(found!.get("batch_f")).toEqual({ value: tv(6), tier: "postgres" });
    await settle();
    expect(near.writes.length).toBe(1);
    expect(far.writes.length).toBe(1);
    // The join timeout of single flight follows the levels' deadlines.
    expect(store.flightJoinTimeoutMs).toBe(150);
  });
});

describe("aggregation features in the tiered store", () => {
  const aggF = FeatureDefinition.parse({
    name: "agg_f",
    group: "g",
    entity_type: "user",
    feature_type: "numerical",
    computation_type: "aggregation",
    update_frequency: "realtime",
    owner: "ml@echotune.fm",
    description: "test aggregate",
    retention_days: 30,
    ttl_seconds: 86_400,
    aggregation: { function: "count", source_event: "listening_event", window: "1h", tile: "1m" },
  });

  it("are read only from the tier that serves them, share its breaker by name, and stay in L0 for the stream TTL only", async () => {
    let now = NOW;
    const durable = new MapStore("durable_object", ["stream"]);
    const aggregates = new ReadOnlyStore("durable_object", ["aggregation"]);
    const redis = new MapStore("redis", ["batch", "stream"]);
    const store = new TieredFeatureStore([[durable, aggregates], [redis]], new MemoryCache(100, 1 << 20, () => now), { now: () => now });
    aggregates.inner.put("u1", { agg_f: tv(7, 10_000) });
    const read = async () => (await store.read([lookup("u1", [aggF])], opts))[0]!.get("agg_f");
    expect(await read()).toEqual({ value: tv(7, 10_000), tier: "durable_object" });
    expect(durable.reads).toEqual([]);
    expect(redis.reads).toEqual([]);
    expect(Object.keys(store.breakers)).toEqual(["durable_object", "redis"]);
    aggregates.inner.put("u1", { agg_f: tv(8, 5_000) });
    now += 999;
    expect((await read())?.tier).toBe("memory");
    now += 2; // past MEMORY_TTL_STREAM_MS (1 s), far inside a batch feature's 60 s
    expect(await read()).toEqual({ value: tv(8, 5_000), tier: "durable_object" });
    await settle();
  });
});
