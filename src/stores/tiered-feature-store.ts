// The read path: L0 memory, then each level of the tier list in order (KV and the Durable Object,
// then Redis, then Postgres in the default list of tiers.ts), with write-back to the tiers above.

import type { FeatureDefinition } from "../core/definitions";
import type { ServedTier } from "../core/feature-request";
import { entityMapKey, isNewer, type TimedValue } from "../core/keys";
import { log } from "../core/log";
import {
  type EntityRef,
  isWritable,
  type OnlineStore,
  type OnlineStoreReader,
  type StoredTier,
  type TierLevels,
} from "../core/online-store";
import { CircuitBreaker } from "./circuit-breaker";
import { MEMORY_TTL_BATCH_MS, MEMORY_TTL_NOT_FOUND_MS, MEMORY_TTL_STREAM_MS, MemoryCache, type MemoryWrite } from "./memory-cache";
import { awaitShared } from "./shared-promise";
import { type KvWriteBack, kvWriteBackPolicy, type WriteBackPolicy } from "./write-back-policy";

export interface Lookup extends EntityRef {
  /** Stored (batch or stream) features to read for this entity. */
  features: FeatureDefinition[];
  /**
   * Read-your-writes (src/serving/read-your-writes.ts): per feature, the event time a value must
   * reach to count. An older one is passed over like a stale one: L0 and the upper tiers are read
   * through to the lower ones for these features of this entity only.
   */
  minEventMs?: ReadonlyMap<string, number>;
}

/** Is a value too old for this lookup's read-your-writes mark of the feature? */
function belowMark(lookup: Lookup, def: FeatureDefinition, value: TimedValue | undefined): boolean {
  const min = lookup.minEventMs?.get(def.name);
  return min !== undefined && (value === undefined || value.eventTimestamp < min);
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

export interface TierCounters {
  hits: Record<ServedTier, number>;
  errors: Partial<Record<StoredTier, number>>;
  backendReads: number;
}

export interface TieredStoreOptions {
  /** KV's write-back rule (write-back-policy.ts); default `repeat`. */
  kvWriteBack?: KvWriteBack;
  /** Write-back rules of other tiers; a tier without one takes write-backs while its breaker is closed. */
  writeBack?: Partial<Record<StoredTier, WriteBackPolicy>>;
  now?: () => number;
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

/** A tier with the writable tiers above it (earlier levels) that a value it served is written back to. */
interface TierSlot {
  store: OnlineStoreReader;
  breaker: CircuitBreaker;
  above: OnlineStore[];
}

export class TieredFeatureStore {
  readonly memory: MemoryCache;
  /** One breaker per configured tier (metrics show their state). */
  readonly breakers: Partial<Record<StoredTier, CircuitBreaker>> = {};
  readonly counters: TierCounters = {
    hits: { memory: 0, kv: 0, durable_object: 0, redis: 0, postgres: 0, computed: 0 },
    errors: {},
    backendReads: 0,
  };
  /**
   * A request that joins another request's fetch of the same entity waits at most this long (every
   * level's longest deadline in a row: more than a fetch can take), then fetches on its own; an older
   * flight is not joined.
   */
  readonly flightJoinTimeoutMs: number;
  /**
   * Single flight: one backend fetch per entity at a time; concurrent misses await it. A flight is
   * registered per entity but shares its batch's promise (one `then` per batch, not per entity).
   */
  private readonly inflight = new Map<string, Flight>();
  /** KV's write-back rule (see write-back-policy.ts). */
  readonly kvWriteBack: KvWriteBack;
  private readonly levels: readonly (readonly TierSlot[])[];
  private readonly writeBack: Partial<Record<StoredTier, WriteBackPolicy>>;
  private readonly now: () => number;

  constructor(levels: TierLevels, memory?: MemoryCache, opts: TieredStoreOptions = {}) {
    this.memory = memory ?? new MemoryCache();
    this.now = opts.now ?? Date.now;
    this.kvWriteBack = opts.kvWriteBack ?? "repeat";
    this.writeBack = { kv: kvWriteBackPolicy(this.kvWriteBack), ...opts.writeBack };
    const writableAbove: OnlineStore[] = [];
    this.levels = levels.map((level) => {
      const slots = level.map((store) => {
        // Tiers of one name share a breaker: the Durable Object's stream values and its aggregates are one backend.
        const breaker = this.breakers[store.tier] ?? new CircuitBreaker(store.tier, this.now);
        this.breakers[store.tier] = breaker;
        return { store, breaker, above: [...writableAbove] };
      });
      for (const store of level) if (isWritable(store)) writableAbove.push(store);
      return slots;
    });
    this.flightJoinTimeoutMs = levels.reduce((sum, level) => sum + Math.max(0, ...level.map((t) => t.deadlineMs)), 0);
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
        if (
          slot &&
          (slot.value === undefined || now - slot.value.eventTimestamp <= opts.maxAgeMs(def)) &&
          !(lookup.minEventMs && belowMark(lookup, def, slot.value))
        ) {
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
      // A read with write marks never joins a flight: that flight may have started before the write landed.
      if (flight && !miss.lookup.minEventMs && age < this.flightJoinTimeoutMs && flightCovers(flight, miss.lookup.features)) {
        waits.push(
          awaitShared(flight.batch, this.flightJoinTimeoutMs - age).then(async (shared) => {
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
    /**
     * Per lookup, the tier that served each value when it has tiers above it to write back to (a
     * level-0 hit, the common case, records nothing: later levels always have more tiers above).
     */
    const servedBy: (Map<string, TierSlot> | undefined)[] = [];

    const readTier = async (slot: TierSlot) => {
      const { store, breaker } = slot;
      const idx: number[] = [];
      const fields: string[][] = [];
      pending.forEach((defs, i) => {
        const names: string[] = [];
        for (const d of defs) if (store.serves.has(d.computation_type)) names.push(d.name);
        if (names.length) {
          idx.push(i);
          fields.push(names);
        }
      });
      if (idx.length === 0) return;
      let rows: Record<string, TimedValue>[];
      try {
        const got = await breaker.run(
          () =>
            store.read(
              idx.map((i) => lookups[i]!),
              fields,
            ),
          store.deadlineMs,
        );
        if (!got) return; // breaker open: skip the tier
        rows = got.value;
      } catch (err) {
        this.counters.errors[store.tier] = (this.counters.errors[store.tier] ?? 0) + 1;
        log("warn", "tier_read_failed", { tier: store.tier, error: err });
        return;
      }
      idx.forEach((i, j) => {
        answered[i] = true;
        const row = rows[j] ?? {};
        const still: FeatureDefinition[] = [];
        for (const def of pending[i]!) {
          const value = store.serves.has(def.computation_type) ? row[def.name] : undefined;
          if (!value) {
            still.push(def);
            continue;
          }
          const cur = best[i]!.get(def.name);
          if (isNewer(value, cur?.value)) {
            best[i]!.set(def.name, { value, tier: store.tier });
            if (slot.above.length) {
              servedBy[i] ??= new Map();
              servedBy[i]!.set(def.name, slot);
            }
          }
          if (now - value.eventTimestamp > opts.maxAgeMs(def) || belowMark(lookups[i]!, def, value)) still.push(def);
        }
        pending[i] = still;
      });
    };

    for (const level of this.levels) {
      if (level.length === 1) await readTier(level[0]!);
      else await Promise.all(level.map(readTier));
    }

    // Features no tier had: NOT_FOUND, or unavailable when no tier answered at all.
    lookups.forEach((lookup, i) => {
      for (const def of lookup.features) {
        if (!best[i]!.has(def.name))
          best[i]!.set(def.name, { value: undefined, tier: null, ...(answered[i] ? {} : { unavailable: true }) });
      }
    });
    this.fillAbove(lookups, best, servedBy, opts);
    return best;
  }

  /**
   * Fill L0, and the writable tiers above the one that served each value that hold its computation
   * type, without delaying the response.
   */
  private fillAbove(lookups: Lookup[], found: ResultMap[], servedBy: (Map<string, TierSlot> | undefined)[], opts: ReadOptions): void {
    const now = this.now();
    lookups.forEach((lookup, i) => {
      const toMemory: MemoryWrite[] = [];
      const toTiers = new Map<OnlineStore, Record<string, TimedValue>>();
      for (const def of lookup.features) {
        const f = found[i]!.get(def.name);
        if (!f || f.unavailable) continue;
        if (f.tier) this.counters.hits[f.tier]++;
        const live = def.computation_type === "stream" || def.computation_type === "aggregation";
        const classTtl = live ? MEMORY_TTL_STREAM_MS : MEMORY_TTL_BATCH_MS;
        if (!f.value) {
          toMemory.push({ name: def.name, value: undefined, ttlMs: Math.min(classTtl, MEMORY_TTL_NOT_FOUND_MS) });
          continue;
        }
        const remaining = opts.maxAgeMs(def) - (now - f.value.eventTimestamp);
        toMemory.push({ name: def.name, value: f.value, ttlMs: Math.min(classTtl, remaining) });
        for (const target of servedBy[i]?.get(def.name)?.above ?? []) {
          if (!target.serves.has(def.computation_type)) continue;
          let values = toTiers.get(target);
          if (!values) {
            values = {};
            toTiers.set(target, values);
          }
          values[def.name] = f.value;
        }
      }
      this.memory.setMany(lookup.entityType, lookup.entityId, toMemory);
      if (toTiers.size === 0) return;
      const key = entityKey(lookup);
      for (const [target, values] of toTiers) {
        const policy = this.writeBack[target.tier];
        if (policy ? !policy(key, now) : this.breakers[target.tier]?.state !== "closed") continue;
        opts.waitUntil(
          target.writeIfNewer([{ ref: { entityType: lookup.entityType, entityId: lookup.entityId }, values }]).then(
            (results) => {
              const r = results[0];
              if (r instanceof Error) log("warn", "tier_write_back_failed", { tier: target.tier, error: r });
            },
            (e: unknown) => log("warn", "tier_write_back_failed", { tier: target.tier, error: e }),
          ),
        );
      }
    });
  }
}
