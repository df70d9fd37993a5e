// L0 tier: a per-isolate LRU of feature values, bounded in entries and bytes, with per-entry expiry.
import type { TimedValue } from "../core/keys";

export const MEMORY_MAX_ENTRIES = 50_000;
export const MEMORY_MAX_BYTES = 32 * 1024 * 1024;
/** Batch features change hourly or daily: an isolate may keep them this long. */
export const MEMORY_TTL_BATCH_MS = 60_000;
/** Stream features must stay fresh within a second of an event. */
export const MEMORY_TTL_STREAM_MS = 1_000;
/** A NOT_FOUND is remembered briefly so a hot missing key does not hammer the tiers below. */
export const MEMORY_TTL_NOT_FOUND_MS = 5_000;
/**
 * A hit moves its entry to the young end at most this often. Recency finer than a second does not
 * change what gets evicted, and re-inserting on every hit was 100 Map writes per 50-feature L0 hit
 * (about an eighth of its CPU).
 */
export const MEMORY_LRU_TOUCH_INTERVAL_MS = 1_000;

/** `undefined` value slot = cached NOT_FOUND. */
interface Entry {
  value: TimedValue | undefined;
  expiresAt: number;
  bytes: number;
  /** When it last moved to the young end (insert, or a hit at most every MEMORY_LRU_TOUCH_INTERVAL_MS). */
  touchedAt: number;
}

export class MemoryCache {
  private readonly map = new Map<string, Entry>();
  /**
   * Oldest-first cursor kept between evictions. A fresh `map.keys().next()` per eviction rescans every
   * slot deleted at the front since V8 last compacted the table: about 20 µs per eviction at 50,000
   * entries, which made a full cache spend most of a 100-entity batch evicting. A live Map iterator
   * skips deleted entries and visits re-inserted (recently used) ones at their new place, so it
   * always yields the least recently used entry.
   */
  private cursor: Iterator<string> | undefined;
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxEntries = MEMORY_MAX_ENTRIES,
    private readonly maxBytes = MEMORY_MAX_BYTES,
    private readonly now: () => number = Date.now,
  ) {}

  static key(entityType: string, entityId: string, feature: string): string {
    return `${entityType}\u0000${entityId}\u0000${feature}`;
  }

  /** `{hit: false}` on a miss; `{hit: true, value: undefined}` for a cached NOT_FOUND. */
  get(key: string, now: number = this.now()): { hit: true; value: TimedValue | undefined } | { hit: false } {
    const e = this.map.get(key);
    if (!e) {
      this.misses++;
      return { hit: false };
    }
    if (e.expiresAt <= now) {
      this.delete(key, e);
      this.misses++;
      return { hit: false };
    }
    if (now - e.touchedAt >= MEMORY_LRU_TOUCH_INTERVAL_MS) {
      // Re-insert to mark as recently used (Map keeps insertion order).
      e.touchedAt = now;
      this.map.delete(key);
      this.map.set(key, e);
    }
    this.hits++;
    return { hit: true, value: e.value };
  }

  set(key: string, value: TimedValue | undefined, ttlMs: number): void {
    if (ttlMs <= 0) return;
    const bytes = key.length * 2 + (value === undefined ? 16 : estimateBytes(value.value) + 16);
    if (bytes > this.maxBytes / 16) return; // one huge value must not flush the whole cache
    const old = this.map.get(key);
    if (old) this.delete(key, old);
    const now = this.now();
    this.map.set(key, { value, expiresAt: now + ttlMs, bytes, touchedAt: now });
    this.bytes += bytes;
    this.evict();
  }

  stats(): { entries: number; bytes: number; hits: number; misses: number } {
    return { entries: this.map.size, bytes: this.bytes, hits: this.hits, misses: this.misses };
  }

  clear(): void {
    this.map.clear();
    this.cursor = undefined;
    this.bytes = 0;
  }

  private delete(key: string, e: Entry): void {
    this.map.delete(key);
    this.bytes -= e.bytes;
  }

  private evict(): void {
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      let oldest = this.cursor?.next();
      if (!oldest || oldest.done) {
        this.cursor = this.map.keys();
        oldest = this.cursor.next();
        if (oldest.done) return;
      }
      const e = this.map.get(oldest.value);
      if (e) this.delete(oldest.value, e);
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
