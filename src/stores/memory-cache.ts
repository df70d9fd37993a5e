// L0 tier: a per-isolate LRU of feature values grouped by entity, bounded in values and bytes, with
// per-value expiry.
//
// One entry per entity (not per entity × feature): a request reads the vector of one entity, so a
// 50-feature hit is one Map lookup plus 50 lookups in a small per-entity map, and a 100-entity batch
// writes back 100 entries instead of 5,000. Keyed per value, the cache was most of the CPU of a
// 100 × 50 batch (5,000 key strings built and hashed, 5,000 inserts and evictions per request).
import { entityMapKey, type TimedValue } from "../core/keys";
import { Doorkeeper } from "./doorkeeper";

/**
 * Bound on cached feature values (summed over entities): 4,000 vectors of 50 features, about 36 MB of
 * V8 heap (measured: ~180 bytes per parsed value with its slot and map entry), a third of a Worker
 * isolate's 128 MB. Override with L0_MAX_VALUES.
 */
export const MEMORY_MAX_ENTRIES = 200_000;
/** Bound on the estimated bytes (the estimate is calibrated to V8's heap). Override with L0_MAX_MB. */
export const MEMORY_MAX_BYTES = 36 * 1024 * 1024;
/** Batch features change hourly or daily: an isolate may keep them this long. */
export const MEMORY_TTL_BATCH_MS = 60_000;
/** Stream features must stay fresh within a second of an event. */
export const MEMORY_TTL_STREAM_MS = 1_000;
/** A NOT_FOUND is remembered briefly so a hot missing key does not hammer the tiers below. */
export const MEMORY_TTL_NOT_FOUND_MS = 5_000;
/**
 * A hit moves its entity to the young end at most this often. Recency finer than a second does not
 * change what gets evicted, and re-inserting on every hit costs two Map writes per request.
 */
export const MEMORY_LRU_TOUCH_INTERVAL_MS = 1_000;
/**
 * Fixed per-value overhead in the byte estimate: slot and TimedValue objects, the map entry, a boxed
 * number. Calibrated so the estimate matches the heap growth of a filled cache (~180 bytes per value).
 */
const SLOT_OVERHEAD_BYTES = 150;
/** Fixed per-entity overhead in the byte estimate (entry, its map's table, the key). */
const ENTITY_OVERHEAD_BYTES = 200;

/**
 * Which new entities a full cache takes in. `always` (the default): plain LRU. `repeat`: only one
 * this isolate already tried to cache within the doorkeeper's window (TinyLFU's doorkeeper), so the
 * one-hit wonders of a long tail do not evict hot entities. In a steady Zipf(1.0) stream over a
 * million entities it raised the hit ratio (51% → 56% over 200,000 requests, simulated) and cut
 * inserts 18-fold; but a cache already full of one-hit entities (the bench's batch scenarios) turns
 * newcomers away until they repeat, and over the bench's 70 s mixed-zipf window it lowered the L0
 * share from 50.6% to 47.3%. A cache with room takes everything either way.
 */
export const L0_ADMISSIONS = ["repeat", "always"] as const;
export type L0Admission = (typeof L0_ADMISSIONS)[number];

/** A cached value; `value: undefined` is a cached NOT_FOUND. */
export interface MemorySlot {
  readonly value: TimedValue | undefined;
  readonly expiresAt: number;
  readonly bytes: number;
}

export interface MemoryEntity {
  readonly slots: Map<string, MemorySlot>;
  bytes: number;
  /** When it last moved to the young end (insert, or a hit at most every MEMORY_LRU_TOUCH_INTERVAL_MS). */
  touchedAt: number;
}

/** What to cache for one feature of an entity. */
export interface MemoryWrite {
  name: string;
  value: TimedValue | undefined;
  ttlMs: number;
}

export class MemoryCache {
  private readonly map = new Map<string, MemoryEntity>();
  /**
   * Oldest-first cursor kept between evictions. A fresh `map.keys().next()` per eviction rescans every
   * slot deleted at the front since V8 last compacted the table. A live Map iterator skips deleted
   * entries and visits re-inserted (recently used) ones at their new place, so it always yields the
   * least recently used entity.
   */
  private cursor: Iterator<string> | undefined;
  private values = 0;
  private bytes = 0;
  hits = 0;
  misses = 0;
  /** New entities a full cache turned away (first sight under `repeat` admission; 0 under `always`). */
  declined = 0;
  private readonly doorkeeper: Doorkeeper | undefined;

  constructor(
    private readonly maxValues = MEMORY_MAX_ENTRIES,
    private readonly maxBytes = MEMORY_MAX_BYTES,
    private readonly now: () => number = Date.now,
    admission: L0Admission = "always",
  ) {
    this.doorkeeper = admission === "repeat" ? new Doorkeeper() : undefined;
  }

  /** The entity's cached values (possibly expired: check each slot with `fresh`), or undefined. */
  entity(entityType: string, entityId: string, now: number = this.now()): MemoryEntity | undefined {
    const key = entityMapKey(entityType, entityId);
    const e = this.map.get(key);
    if (e && now - e.touchedAt >= MEMORY_LRU_TOUCH_INTERVAL_MS) {
      // Re-insert to mark as recently used (Map keeps insertion order).
      e.touchedAt = now;
      this.map.delete(key);
      this.map.set(key, e);
    }
    return e;
  }

  /**
   * One feature of an entity returned by `entity()`: the slot when cached and unexpired (counted as a
   * hit), else undefined (a miss; an expired slot is dropped).
   */
  slot(entity: MemoryEntity | undefined, name: string, now: number): MemorySlot | undefined {
    const s = entity?.slots.get(name);
    if (s && s.expiresAt > now) {
      this.hits++;
      return s;
    }
    if (s) this.dropSlot(entity!, name, s);
    this.misses++;
    return undefined;
  }

  /** Caches values of one entity; a ttl ≤ 0 skips that value (and drops what was cached for it). */
  setMany(entityType: string, entityId: string, writes: readonly MemoryWrite[]): void {
    this.setValues(
      entityType,
      entityId,
      writes.length,
      writes.map((w) => w.name),
      writes.map((w) => w.value),
      writes.map((w) => w.ttlMs),
    );
  }

  /**
   * `setMany` of the first `n` entries of parallel arrays (name, value, ttl): the read path's
   * write-back fills the same arrays for every entity instead of an object per value.
   */
  setValues(
    entityType: string,
    entityId: string,
    n: number,
    names: readonly string[],
    values: readonly (TimedValue | undefined)[],
    ttls: readonly number[],
  ): void {
    if (n === 0) return;
    const now = this.now();
    const key = entityMapKey(entityType, entityId);
    let e = this.map.get(key);
    if (!e) {
      // Full: a new entity gets in only on its second try (the doorkeeper); until then it is not cached.
      if (this.doorkeeper && this.isFull(n) && !this.doorkeeper.seenBefore(key)) {
        this.declined++;
        return;
      }
      e = { slots: new Map(), bytes: ENTITY_OVERHEAD_BYTES + key.length * 2, touchedAt: now };
      this.map.set(key, e);
      this.bytes += e.bytes;
    } else if (now - e.touchedAt >= MEMORY_LRU_TOUCH_INTERVAL_MS) {
      e.touchedAt = now;
      this.map.delete(key);
      this.map.set(key, e);
    }
    for (let i = 0; i < n; i++) {
      const name = names[i]!;
      const value = values[i];
      const ttlMs = ttls[i]!;
      const old = e.slots.get(name);
      if (old) this.dropSlot(e, name, old);
      if (ttlMs <= 0) continue;
      const bytes = SLOT_OVERHEAD_BYTES + name.length * 2 + (value === undefined ? 0 : estimateBytes(value.value));
      if (bytes > this.maxBytes / 16) continue; // one huge value must not flush the whole cache
      e.slots.set(name, { value, expiresAt: now + ttlMs, bytes });
      e.bytes += bytes;
      this.bytes += bytes;
      this.values++;
    }
    if (e.slots.size === 0) this.deleteEntity(key, e);
    this.evict(key);
  }

  stats(): { entries: number; entities: number; bytes: number; hits: number; misses: number; declined: number } {
    return {
      entries: this.values,
      entities: this.map.size,
      bytes: this.bytes,
      hits: this.hits,
      misses: this.misses,
      declined: this.declined,
    };
  }

  clear(): void {
    this.map.clear();
    this.cursor = undefined;
    this.values = 0;
    this.bytes = 0;
  }

  /** Would `values` more values push the cache past a bound (so that taking them evicts)? */
  private isFull(values: number): boolean {
    return this.values + values > this.maxValues || this.bytes + values * SLOT_OVERHEAD_BYTES + ENTITY_OVERHEAD_BYTES > this.maxBytes;
  }

  private dropSlot(e: MemoryEntity, name: string, s: MemorySlot): void {
    e.slots.delete(name);
    e.bytes -= s.bytes;
    this.bytes -= s.bytes;
    this.values--;
  }

  private deleteEntity(key: string, e: MemoryEntity): void {
    this.map.delete(key);
    this.bytes -= e.bytes;
    this.values -= e.slots.size;
  }

  /** Drops least recently used entities until within bounds; `keep` (the one just written) goes last. */
  private evict(keep: string): void {
    while ((this.values > this.maxValues || this.bytes > this.maxBytes) && this.map.size > 0) {
      let oldest = this.cursor?.next();
      if (!oldest || oldest.done) {
        this.cursor = this.map.keys();
        oldest = this.cursor.next();
        if (oldest.done) return;
      }
      if (oldest.value === keep && this.map.size > 1) continue;
      const e = this.map.get(oldest.value);
      if (e) this.deleteEntity(oldest.value, e);
    }
  }
}

function estimateBytes(value: unknown): number {
  if (value === null || value === undefined) return 8;
  if (typeof value === "number" || typeof value === "boolean") return 8;
  if (typeof value === "string") return value.length * 2;
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + estimateBytes(v), 16);
  return JSON.stringify(value).length * 2;
}
