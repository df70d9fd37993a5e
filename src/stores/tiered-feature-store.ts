// The read path: L0 memory, then each level of the tier list in order (KV and the Durable Object,
// then Redis, then Postgres in the default list of tiers.ts), with write-back to the tiers above.

import type { ComputationType, FeatureDefinition } from "../core/definitions";
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
import { type HedgeOptions, HedgePolicy } from "./hedge-policy";
import { MEMORY_TTL_BATCH_MS, MEMORY_TTL_NOT_FOUND_MS, MEMORY_TTL_STREAM_MS, MemoryCache } from "./memory-cache";
import { awaitShared } from "./shared-promise";
import { type KvWriteBack, kvWriteBackPolicy, type WriteBackPolicy } from "./write-back-policy";

export interface Lookup extends EntityRef {
  /** Stored (batch or stream) features to read for this entity (shared between lookups: never changed in place). */
  features: readonly FeatureDefinition[];
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
  /** Hedged tier reads (hedge-policy.ts): on by default; `false` turns them off. */
  hedge?: HedgeOptions | false;
}

type ResultMap = Map<string, Found>;

/** What fillAbove caches of one entity at a time (first n entries), shared: it runs without an await. */
const memoryNames: string[] = [];
const memoryValues: (TimedValue | undefined)[] = [];
const memoryTtls: number[] = [];

/**
 * The placeholder result of a lookup nothing was cached for, replaced by what the tiers answer
 * before `read` returns (never written to, never returned).
 */
const EMPTY_RESULT: ResultMap = new Map();

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

/** One read of one tier: the lookups asked (by index) and, for each, the feature names. */
interface TierRead {
  slot: TierSlot;
  idx: number[];
  fields: (readonly string[])[];
}

/** The names of a lookup's feature list, kept per list: a plan's lists are shared by every request of that plan. */
const listNames = new WeakMap<readonly FeatureDefinition[], readonly string[]>();

function namesOf(list: readonly FeatureDefinition[]): readonly string[] {
  let names = listNames.get(list);
  if (!names) {
    names = list.map((d) => d.name);
    listNames.set(list, names);
  }
  return names;
}

/** Boxes a tier's answer so "no answer yet" (a hedge delay's undefined) is told apart from "no rows". */
const wrapRows = (rows: Record<string, TimedValue>[] | undefined) => ({ rows });

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
  /** The hedging policy of the tier loop; undefined when hedging is off. */
  readonly hedge: HedgePolicy | undefined;

  constructor(levels: TierLevels, memory?: MemoryCache, opts: TieredStoreOptions = {}) {
    this.memory = memory ?? new MemoryCache();
    this.now = opts.now ?? Date.now;
    this.kvWriteBack = opts.kvWriteBack ?? "repeat";
    this.hedge = opts.hedge === false ? undefined : new HedgePolicy(opts.hedge);
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
      const cached = memory.entity(lookup.entityType, lookup.entityId, now);
      if (!cached) {
        // Nothing of the entity is cached: every feature is a miss, read with the lookup as it is.
        memory.misses += lookup.features.length;
        results.push(EMPTY_RESULT);
        misses.push({ index, lookup });
        continue;
      }
      const result: ResultMap = new Map();
      results.push(result);
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
            let into = results[miss.index]!;
            if (into === EMPTY_RESULT) {
              into = new Map();
              results[miss.index] = into;
            }
            for (const def of miss.lookup.features) {
              const f = found.get(def.name);
              if (f) into.set(def.name, f);
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
    this.hedge?.credit();
    const now = this.now();
    const best: ResultMap[] = lookups.map(() => new Map());
    /** Per lookup: features still lacking a fresh value. */
    const pending: (readonly FeatureDefinition[])[] = lookups.map((l) => l.features);
    /** Per lookup: did at least one tier answer for it? */
    const answered: boolean[] = lookups.map(() => false);
    /**
     * Per lookup, the tier that served each value when it has tiers above it to write back to (a
     * level-0 hit, the common case, records nothing: later levels always have more tiers above).
     */
    const servedBy: (Map<string, TierSlot> | undefined)[] = [];
    /** Tiers a hedge already read, per lookup the names they answered: their own level does not ask again. */
    let hedged: Map<TierSlot, Set<string>[]> | undefined;

    /** Which lookups (and which of their pending features) to ask a tier for; `only`: of these types too. */
    const plan = (slot: TierSlot, only?: ReadonlySet<ComputationType>): TierRead | undefined => {
      const { serves } = slot.store;
      const done = hedged?.get(slot);
      const idx: number[] = [];
      const fields: (readonly string[])[] = [];
      for (let i = 0; i < pending.length; i++) {
        const list = pending[i]!;
        // The first read of a lookup whose features this tier all serves asks for its list's names as they are.
        if (list === lookups[i]!.features && !only && !done && list.length && list.every((d) => serves.has(d.computation_type))) {
          idx.push(i);
          fields.push(namesOf(list));
          continue;
        }
        let names: string[] | undefined;
        for (const d of list) {
          if (!serves.has(d.computation_type) || (only && !only.has(d.computation_type)) || done?.[i]?.has(d.name)) continue;
          names ??= [];
          names.push(d.name);
        }
        if (names) {
          idx.push(i);
          fields.push(names);
        }
      }
      return idx.length ? { slot, idx, fields } : undefined;
    };

    /** The tier's rows, or undefined when its breaker is open or it failed (counted, logged). */
    const call = async (r: TierRead): Promise<Record<string, TimedValue>[] | undefined> => {
      const { store, breaker } = r.slot;
      const started = this.hedge?.clock();
      try {
        const got = await breaker.run(
          () =>
            store.read(
              r.idx.map((i) => lookups[i]!),
              r.fields,
            ),
          store.deadlineMs,
        );
        if (got && started !== undefined) this.hedge!.record(store.tier, this.hedge!.clock() - started);
        return got?.value; // undefined: breaker open, the tier is skipped
      } catch (err) {
        // A failure or timeout weighs in the tier's latency as its deadline, so a failing tier is hedged sooner.
        if (started !== undefined) this.hedge!.record(store.tier, store.deadlineMs);
        this.counters.errors[store.tier] = (this.counters.errors[store.tier] ?? 0) + 1;
        log("warn", "tier_read_failed", { tier: store.tier, error: err });
        return undefined;
      }
    };

    /**
     * Takes a tier's answer into `best` and `pending`; returns how many features it settled. A row holds only the features asked of the tier
     * (the port's contract), so a pending feature absent from it stays pending without a second look
     * at what the tier serves.
     */
    const apply = (r: TierRead, rows: Record<string, TimedValue>[]): number => {
      const { slot, idx } = r;
      let settled = 0;
      for (let j = 0; j < idx.length; j++) {
        const i = idx[j]!;
        answered[i] = true;
        const row = rows[j];
        if (!row) continue;
        const still: FeatureDefinition[] = [];
        for (const def of pending[i]!) {
          const value = row[def.name];
          if (!value) {
            still.push(def);
            continue;
          }
          const cur = best[i]!.get(def.name);
          if (isNewer(value, cur?.value)) {
            best[i]!.set(def.name, { value, tier: slot.store.tier });
            if (slot.above.length) {
              servedBy[i] ??= new Map();
              servedBy[i]!.set(def.name, slot);
            }
          }
          if (now - value.eventTimestamp > opts.maxAgeMs(def) || belowMark(lookups[i]!, def, value)) still.push(def);
          else settled++;
        }
        pending[i] = still;
      }
      return settled;
    };

    const readTier = async (slot: TierSlot) => {
      const r = plan(slot);
      if (!r) return;
      const rows = await call(r);
      if (rows) apply(r, rows);
    };

    /** Is any feature the read asked for still pending (its lookups not all answered fresh)? */
    const stillWanted = (r: TierRead) => {
      const { serves } = r.slot.store;
      return r.idx.some((i) => pending[i]!.some((d) => serves.has(d.computation_type)));
    };

    /**
     * A tier read that, when the tier has not answered within its hedge delay, also asks the next level
     * for the same missing features; per lookup the first fresh answer counts and the slower answer is
     * dropped (a late primary is applied only where the hedge left a feature pending).
     */
    const readHedged = async (slot: TierSlot, next: readonly TierSlot[], policy: HedgePolicy) => {
      const r = plan(slot);
      if (!r) return;
      const primary = call(r);
      const delay = policy.delayFor(slot.store.tier, slot.store.deadlineMs);
      const first = delay === undefined ? { rows: await primary } : await awaitShared(primary.then(wrapRows), delay);
      if (first) {
        if (first.rows) apply(r, first.rows);
        return;
      }
      // Only tiers whose breaker is closed are hedged into: an open or half-open one is not loaded more.
      const reads: TierRead[] = [];
      for (const t of next) {
        if (t.breaker.state !== "closed") continue;
        const h = plan(t, slot.store.serves);
        if (h) reads.push(h);
      }
      if (reads.length === 0 || !policy.take()) {
        const rows = await primary;
        if (rows) apply(r, rows);
        return;
      }
      for (const h of reads) policy.sent(slot.store.tier, h.slot.store.tier);
      const hedge = Promise.all(reads.map(async (h) => ({ h, rows: await call(h) })));
      const winner = await Promise.race([primary.then((rows) => ({ primary: rows })), hedge.then((answers) => ({ answers }))]);
      if ("primary" in winner && winner.primary) {
        apply(r, winner.primary);
        return; // the hedge's answer, whenever it comes, is dropped
      }
      const answers = "answers" in winner ? winner.answers : await hedge;
      for (const { h, rows } of answers) {
        if (!rows) continue;
        // A win: the hedge served a fresh value (a stale or missing one leaves the feature to the slow tier).
        if (apply(h, rows) > 0) policy.won(slot.store.tier, h.slot.store.tier);
        hedged ??= new Map();
        let done = hedged.get(h.slot);
        if (!done) {
          done = [];
          hedged.set(h.slot, done);
        }
        h.idx.forEach((i, j) => {
          done[i] ??= new Set();
          for (const n of h.fields[j]!) done[i].add(n);
        });
      }
      if ("primary" in winner || !stillWanted(r)) return;
      const rows = await primary;
      if (rows) apply(r, rows);
    };

    const levels = this.levels;
    for (let li = 0; li < levels.length; li++) {
      const level = levels[li]!;
      const next = levels[li + 1];
      const policy = this.hedge;
      if (policy && next) await Promise.all(level.map((slot) => readHedged(slot, next, policy)));
      else if (level.length === 1) await readTier(level[0]!);
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
      let n = 0;
      let toTiers: Map<OnlineStore, Record<string, TimedValue>> | undefined;
      for (const def of lookup.features) {
        const f = found[i]!.get(def.name);
        if (!f || f.unavailable) continue;
        if (f.tier) this.counters.hits[f.tier]++;
        const live = def.computation_type === "stream" || def.computation_type === "aggregation";
        const classTtl = live ? MEMORY_TTL_STREAM_MS : MEMORY_TTL_BATCH_MS;
        memoryNames[n] = def.name;
        if (!f.value) {
          memoryValues[n] = undefined;
          memoryTtls[n++] = Math.min(classTtl, MEMORY_TTL_NOT_FOUND_MS);
          continue;
        }
        const remaining = opts.maxAgeMs(def) - (now - f.value.eventTimestamp);
        memoryValues[n] = f.value;
        memoryTtls[n++] = Math.min(classTtl, remaining);
        const above = servedBy[i]?.get(def.name)?.above;
        if (!above) continue;
        for (const target of above) {
          if (!target.serves.has(def.computation_type)) continue;
          toTiers ??= new Map();
          let values = toTiers.get(target);
          if (!values) {
            values = {};
            toTiers.set(target, values);
          }
          values[def.name] = f.value;
        }
      }
      this.memory.setValues(lookup.entityType, lookup.entityId, n, memoryNames, memoryValues, memoryTtls);
      memoryValues.fill(undefined, 0, n); // hold no value past the write
      if (!toTiers) return;
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
