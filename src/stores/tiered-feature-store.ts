// The read path: L0 memory → KV (batch) or Durable Object (stream) → Redis → Postgres, with write-back.
import type { FeatureDefinition } from "../core/definitions";
import { errorMessage } from "../core/errors";
import type { ServedTier } from "../core/feature-request";
import { entityMapKey, isNewer, type TimedValue } from "../core/keys";
import type { FeatureWrite } from "../durable/entity-state";
import { CircuitBreaker } from "./circuit-breaker";
import { Doorkeeper } from "./doorkeeper";
import type { DurableObjectFeatureStore } from "./durable-object-store";
import type { KvFeatureStore } from "./kv-store";
import { MEMORY_TTL_BATCH_MS, MEMORY_TTL_NOT_FOUND_MS, MEMORY_TTL_STREAM_MS, MemoryCache, type MemoryWrite } from "./memory-cache";
import type { PostgresFeatureStore } from "./postgres-store";
import type { EntityRef, RedisFeatureStore } from "./redis-store";
import { awaitShared } from "./shared-promise";

/** Per-tier deadlines: a tier slower than this is skipped for the request (and counts toward its breaker). */
export const TIER_DEADLINE_MS = { kv: 150, durable_object: 250, redis: 300, postgres: 3_000 } as const;
/**
 * A request joining another request's fetch of the same entity waits at most this long (every tier's
 * deadline in a row: more than a fetch can take), then fetches on its own; an older flight is not joined.
 */
export const FLIGHT_JOIN_TIMEOUT_MS =
  TIER_DEADLINE_MS.kv + TIER_DEADLINE_MS.durable_object + TIER_DEADLINE_MS.redis + TIER_DEADLINE_MS.postgres;
/** KV allows one write per second per key; write-backs to the same row are spaced at least this far apart. */
export const KV_WRITE_BACK_INTERVAL_MS = 1_000;

export const KV_WRITE_BACK_MODES = ["repeat", "on", "off"] as const;
export type KvWriteBack = (typeof KV_WRITE_BACK_MODES)[number];

export interface Lookup extends EntityRef {
  /** Stored (batch or stream) features to read for this entity. */
  features: FeatureDefinition[];
}

export interface Found {
  /** undefined = NOT_FOUND in every tier that answered. */
  value: TimedValue | undefined;
  tier: ServedTier | null;
  /** No tier could answer (all down or timed out). */
  unavailable?: boolean;
}

export interface ReadOptions {
  /** Max age (ms) for a feature in this request: min(ttl, max_staleness_ms). */
  maxAgeMs: (def: FeatureDefinition) => number;
  waitUntil: (p: Promise<unknown>) => void;
}

export interface TierBackends {
  kv?: KvFeatureStore | undefined;
  durableObject?: DurableObjectFeatureStore | undefined;
  redis?: RedisFeatureStore | undefined;
  postgres?: PostgresFeatureStore | undefined;
}

export interface TierCounters {
  hits: Record<ServedTier, number>;
  errors: Record<string, number>;
  backendReads: number;
}

type ResultMap = Map<string, Found>;

interface Flight {
  /** The features being fetched for the entity (a joiner needs all of its own among them). */
  features: readonly FeatureDefinition[];
  names?: Set<string>;
  batch: Promise<ResultMap[]>;
  index: number;
  startedAt: number;
}

function flightCovers(flight: Flight, wanted: readonly FeatureDefinition[]): boolean {
  if (wanted.length > flight.features.length) return false;
  flight.names ??= new Set(flight.features.map((d) => d.name));
  for (const d of wanted) if (!flight.names.has(d.name)) return false;
  return true;
}

const entityKey = (r: EntityRef) => entityMapKey(r.entityType, r.entityId);

export class TieredFeatureStore {
  readonly memory: MemoryCache;
  readonly breakers = {
    kv: new CircuitBreaker("kv"),
    durable_object: new CircuitBreaker("durable_object"),
    redis: new CircuitBreaker("redis"),
    postgres: new CircuitBreaker("postgres"),
  };
  readonly counters: TierCounters = {
    hits: { memory: 0, kv: 0, durable_object: 0, redis: 0, postgres: 0, computed: 0 },
    errors: {},
    backendReads: 0,
  };
  /**
   * Single flight: one backend fetch per entity at a time; concurrent misses await it. A flight is
   * registered per entity but shares its batch's promise (one `then` per batch, not per entity).
   */
  private readonly inflight = new Map<string, Flight>();
  private readonly kvLastWrite = new Map<string, number>();

  /**
   * Write values served by Redis or Postgres back to KV (DESIGN: a lower-tier hit fills the tiers
   * above). Each write-back is a billed KV write (10× a read) that a long tail mostly never reads
   * again, and materialization and ingest keep KV filled anyway. `repeat` (default): only for an
   * entity this isolate had to fetch below KV before, within the doorkeeper's window. `on`: every
   * time. `off`: never. L0 and the Durable Object and Redis write-backs are unaffected.
   */
  readonly kvWriteBack: KvWriteBack;
  private readonly kvDoorkeeper = new Doorkeeper();
  private readonly now: () => number;

  constructor(
    private readonly backends: TierBackends,
    memory?: MemoryCache,
    opts: { kvWriteBack?: KvWriteBack; now?: () => number } = {},
  ) {
    this.memory = memory ?? new MemoryCache();
    this.kvWriteBack = opts.kvWriteBack ?? "repeat";
    this.now = opts.now ?? Date.now;
  }

  /** For each lookup, every requested feature's best value and the tier that served it. */
  async read(lookups: Lookup[], opts: ReadOptions): Promise<ResultMap[]> {
    const now = this.now();
    const results: ResultMap[] = [];
    const misses: { index: number; lookup: Lookup }[] = [];
    const memory = this.memory;

    for (let index = 0; index < lookups.length; index++) {
      const lookup = lookups[index]!;
      const result: ResultMap = new Map();
      results.push(result);
      const cached = memory.entity(lookup.entityType, lookup.entityId, now);
      let missing: FeatureDefinition[] | undefined;
      for (const def of lookup.features) {
        const slot = memory.slot(cached, def.name, now);
        if (slot && (slot.value === undefined || now - slot.value.eventTimestamp <= opts.maxAgeMs(def))) {
          result.set(def.name, { value: slot.value, tier: "memory" });
          this.counters.hits.memory++;
        } else {
          missing ??= [];
          missing.push(def);
        }
      }
      if (missing) misses.push({ index, lookup: missing.length === lookup.features.length ? lookup : { ...lookup, features: missing } });
    }
    if (misses.length === 0) return results;

    // Join fetches already in flight that cover what we need; fetch the rest together.
    const waits: Promise<void>[] = [];
    const toFetch: { index: number; lookup: Lookup }[] = [];
    for (const miss of misses) {
      const flight = this.inflight.get(entityKey(miss.lookup));
      const age = flight ? now - flight.startedAt : Number.POSITIVE_INFINITY;
      if (flight && age < FLIGHT_JOIN_TIMEOUT_MS && flightCovers(flight, miss.lookup.features)) {
        waits.push(
          awaitShared(flight.batch, FLIGHT_JOIN_TIMEOUT_MS - age).then(async (shared) => {
            // undefined: the flight outlived every tier deadline (its request was cancelled); fetch alone.
            const found = shared?.[flight.index] ?? (await this.fetchFromBackends([miss.lookup], opts))[0]!;
            for (const def of miss.lookup.features) {
              const f = found.get(def.name);
              if (f) results[miss.index]!.set(def.name, f);
            }
          }),
        );
      } else toFetch.push(miss);
    }
    if (toFetch.length) {
      const fetched = this.fetchFromBackends(
        toFetch.map((m) => m.lookup),
        opts,
      );
      const mine: [string, Flight][] = toFetch.map((m, index) => {
        const key = entityKey(m.lookup);
        const flight: Flight = { features: m.lookup.features, batch: fetched, index, startedAt: now };
        this.inflight.set(key, flight);
        return [key, flight];
      });
      const clear = () => {
        for (const [key, flight] of mine) if (this.inflight.get(key) === flight) this.inflight.delete(key);
      };
      fetched.then(clear, clear);
      waits.push(
        fetched.then((all) => {
          toFetch.forEach((m, i) => {
            const into = results[m.index]!;
            // Nothing came from memory: take the fetched map as it is (no one writes to it after the fetch).
            if (into.size === 0) results[m.index] = all[i]!;
            else for (const [name, f] of all[i]!) into.set(name, f);
          });
        }),
      );
    }
    await Promise.all(waits);
    return results;
  }

  private async fetchFromBackends(lookups: Lookup[], opts: ReadOptions): Promise<ResultMap[]> {
    this.counters.backendReads++;
    const now = this.now();
    const best: ResultMap[] = lookups.map(() => new Map());
    /** Per lookup: features still lacking a fresh value. */
    const pending: FeatureDefinition[][] = lookups.map((l) => [...l.features]);
    /** Per lookup: did at least one tier answer for it? */
    const answered: boolean[] = lookups.map(() => false);

    const consider = (i: number, def: FeatureDefinition, value: TimedValue | undefined, tier: ServedTier) => {
      if (!value) return false;
      const cur = best[i]!.get(def.name);
      if (isNewer(value, cur?.value)) best[i]!.set(def.name, { value, tier });
      return now - value.eventTimestamp <= opts.maxAgeMs(def);
    };

    const runTier = async (
      tier: "kv" | "durable_object" | "redis" | "postgres",
      select: (def: FeatureDefinition) => boolean,
      fetch: (refs: EntityRef[], fields: string[][]) => Promise<Record<string, TimedValue>[]>,
    ) => {
      const idx: number[] = [];
      const fields: string[][] = [];
      pending.forEach((defs, i) => {
        const names = defs.filter(select).map((d) => d.name);
        if (names.length) {
          idx.push(i);
          fields.push(names);
        }
      });
      if (idx.length === 0) return;
      const breaker = this.breakers[tier];
      if (!breaker.available) return;
      let rows: Record<string, TimedValue>[];
      try {
        rows = await breaker.run(
          () =>
            fetch(
              idx.map((i) => lookups[i]!),
              fields,
            ),
          TIER_DEADLINE_MS[tier],
        );
      } catch (err) {
        this.counters.errors[tier] = (this.counters.errors[tier] ?? 0) + 1;
        console.warn(`${tier} read failed: ${errorMessage(err)}`);
        return;
      }
      idx.forEach((i, j) => {
        answered[i] = true;
        const row = rows[j] ?? {};
        pending[i] = pending[i]!.filter((def) => !(select(def) && consider(i, def, row[def.name], tier)));
      });
    };

    const { kv, durableObject, redis, postgres } = this.backends;
    await Promise.all([
      kv
        ? runTier(
            "kv",
            (d) => d.computation_type === "batch",
            (refs) => kv.getMany(refs),
          )
        : undefined,
      durableObject
        ? runTier(
            "durable_object",
            (d) => d.computation_type === "stream",
            (refs, f) => durableObject.getMany(refs, f),
          )
        : undefined,
    ]);
    if (redis)
      await runTier(
        "redis",
        () => true,
        (refs, f) => redis.getMany(refs, f),
      );
    if (postgres)
      await runTier(
        "postgres",
        () => true,
        (refs, f) => postgres.getLatest(refs, f),
      );

    // Features no tier had: NOT_FOUND, or unavailable when no tier answered at all.
    lookups.forEach((lookup, i) => {
      for (const def of lookup.features) {
        if (!best[i]!.has(def.name))
          best[i]!.set(def.name, { value: undefined, tier: null, ...(answered[i] ? {} : { unavailable: true }) });
      }
    });
    this.writeBack(lookups, best, opts);
    return best;
  }

  /** Fill the tiers above the one that served, without delaying the response. */
  private writeBack(lookups: Lookup[], found: ResultMap[], opts: ReadOptions): void {
    const now = this.now();
    lookups.forEach((lookup, i) => {
      const toKv: Record<string, TimedValue> = {};
      const toDo: FeatureWrite[] = [];
      const toRedis: Record<string, TimedValue> = {};
      const toMemory: MemoryWrite[] = [];
      for (const def of lookup.features) {
        const f = found[i]!.get(def.name);
        if (!f || f.unavailable) continue;
        if (f.tier) this.counters.hits[f.tier]++;
        const classTtl = def.computation_type === "stream" ? MEMORY_TTL_STREAM_MS : MEMORY_TTL_BATCH_MS;
        if (!f.value) {
          toMemory.push({ name: def.name, value: undefined, ttlMs: Math.min(classTtl, MEMORY_TTL_NOT_FOUND_MS) });
          continue;
        }
        const remaining = opts.maxAgeMs(def) - (now - f.value.eventTimestamp);
        toMemory.push({ name: def.name, value: f.value, ttlMs: Math.min(classTtl, remaining) });
        if (f.tier === "redis" || f.tier === "postgres") {
          if (def.computation_type === "batch") toKv[def.name] = f.value;
          else toDo.push({ name: def.name, value: f.value.value, eventTimestamp: f.value.eventTimestamp, tiebreak: f.value.tiebreak });
        }
        if (f.tier === "postgres") toRedis[def.name] = f.value;
      }
      this.memory.setMany(lookup.entityType, lookup.entityId, toMemory);
      const { kv, durableObject, redis } = this.backends;
      const kvKey = entityKey(lookup);
      if (
        kv &&
        this.kvWriteBack !== "off" &&
        Object.keys(toKv).length &&
        now - (this.kvLastWrite.get(kvKey) ?? 0) >= KV_WRITE_BACK_INTERVAL_MS &&
        (this.kvWriteBack === "on" || this.kvDoorkeeper.seenBefore(kvKey))
      ) {
        this.kvLastWrite.set(kvKey, now);
        if (this.kvLastWrite.size > 10_000) this.kvLastWrite.clear();
        opts.waitUntil(kv.merge(lookup, toKv).catch((e: unknown) => console.warn(`kv write-back failed: ${errorMessage(e)}`)));
      }
      if (durableObject && toDo.length && this.breakers.durable_object.available)
        opts.waitUntil(
          durableObject.put(lookup, toDo).catch((e: unknown) => console.warn(`durable object write-back failed: ${errorMessage(e)}`)),
        );
      if (redis && Object.keys(toRedis).length && this.breakers.redis.available)
        opts.waitUntil(
          redis.putIfNewer(lookup, toRedis).catch((e: unknown) => console.warn(`redis write-back failed: ${errorMessage(e)}`)),
        );
    });
  }
}
