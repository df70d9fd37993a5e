// L0 cache: per-entity entries, per-value expiry, LRU by entity, value and byte bounds, admission.
import { describe, expect, it } from "vitest";
import { choiceVar, ON_OFF_ALIASES, positiveIntVar } from "../../src/config/vars";
import type { TimedValue } from "../../src/core/keys";
import { Doorkeeper } from "../../src/stores/doorkeeper";
import { type L0Admission, MEMORY_LRU_TOUCH_INTERVAL_MS, MemoryCache } from "../../src/stores/memory-cache";

const v = (value: unknown, eventTimestamp = 1_000) => ({ value, eventTimestamp });

/** One value through the read path's API (entity, then slot): `{hit: false}` on a miss. */
function get(cache: MemoryCache, type: string, id: string, name: string, now = Date.now()) {
  const s = cache.slot(cache.entity(type, id, now), name, now);
  return s ? { hit: true, value: s.value } : { hit: false };
}

/** One value through the write-back's API (setMany). */
function set(cache: MemoryCache, type: string, id: string, name: string, value: TimedValue | undefined, ttlMs: number) {
  cache.setMany(type, id, [{ name, value, ttlMs }]);
}

/** A cache on a test clock; plain LRU unless `admission` says otherwise (admission has its own tests). */
function clockedCache(maxValues = 100, maxBytes = 1024 * 1024, admission: L0Admission = "always") {
  const clock = { now: 10_000 };
  const cache = new MemoryCache(maxValues, maxBytes, () => clock.now, admission);
  return { cache, clock };
}

describe("MemoryCache", () => {
  it("returns cached values and cached NOT_FOUNDs, and misses what was never set", () => {
    const { cache, clock } = clockedCache();
    cache.setMany("user", "u1", [
      { name: "a", value: v(1), ttlMs: 1_000 },
      { name: "b", value: undefined, ttlMs: 1_000 },
    ]);
    expect(get(cache, "user", "u1", "a", clock.now)).toEqual({ hit: true, value: v(1) });
    expect(get(cache, "user", "u1", "b", clock.now)).toEqual({ hit: true, value: undefined });
    expect(get(cache, "user", "u1", "c", clock.now)).toEqual({ hit: false });
    expect(get(cache, "user", "u2", "a", clock.now)).toEqual({ hit: false });
    // Same id under another entity type is another entity.
    expect(get(cache, "track", "u1", "a", clock.now)).toEqual({ hit: false });
    expect(cache.stats()).toMatchObject({ entries: 2, entities: 1, hits: 2, misses: 3 });
  });

  it("expires each value on its own ttl and drops expired values from the counts", () => {
    const { cache, clock } = clockedCache();
    cache.setMany("user", "u1", [
      { name: "stream", value: v(1), ttlMs: 1_000 },
      { name: "batch", value: v(2), ttlMs: 60_000 },
    ]);
    clock.now += 1_000;
    expect(get(cache, "user", "u1", "stream", clock.now)).toEqual({ hit: false });
    expect(get(cache, "user", "u1", "batch", clock.now)).toEqual({ hit: true, value: v(2) });
    expect(cache.stats().entries).toBe(1);
  });

  it("skips values with a ttl of zero or less and replaces a value set again", () => {
    const { cache, clock } = clockedCache();
    set(cache, "user", "u1", "a", v(1), 0);
    expect(cache.stats()).toMatchObject({ entries: 0, entities: 0, bytes: 0 });
    set(cache, "user", "u1", "a", v(1), 5_000);
    set(cache, "user", "u1", "a", v(2, 2_000), 5_000);
    expect(get(cache, "user", "u1", "a", clock.now)).toEqual({ hit: true, value: v(2, 2_000) });
    expect(cache.stats().entries).toBe(1);
    // A ttl ≤ 0 for a cached value removes it (the caller's max age says it may not be served).
    set(cache, "user", "u1", "a", v(3, 3_000), -1);
    expect(get(cache, "user", "u1", "a", clock.now)).toEqual({ hit: false });
    expect(cache.stats()).toMatchObject({ entries: 0, entities: 0, bytes: 0 });
  });

  it("evicts the least recently used entity when the value bound is exceeded", () => {
    const { cache, clock } = clockedCache(6);
    const three = (id: string) =>
      cache.setMany(
        "user",
        id,
        ["a", "b", "c"].map((name) => ({ name, value: v(id), ttlMs: 60_000 })),
      );
    three("u1");
    clock.now += 1;
    three("u2");
    // Read u1 after the touch interval: it becomes the most recently used.
    clock.now += MEMORY_LRU_TOUCH_INTERVAL_MS;
    expect(get(cache, "user", "u1", "a", clock.now)).toMatchObject({ hit: true });
    three("u3");
    expect(get(cache, "user", "u2", "a", clock.now)).toEqual({ hit: false });
    expect(get(cache, "user", "u1", "a", clock.now)).toMatchObject({ hit: true });
    expect(get(cache, "user", "u3", "c", clock.now)).toMatchObject({ hit: true });
    expect(cache.stats()).toMatchObject({ entries: 6, entities: 2 });
  });

  it("keeps the byte estimate within its bound and accurate through replace, expiry and eviction", () => {
    const { cache, clock } = clockedCache(1_000_000, 4_000);
    for (let i = 0; i < 200; i++) {
      cache.setMany("user", `u${i}`, [
        { name: "s", value: v("x".repeat(50)), ttlMs: 60_000 },
        { name: "n", value: v(i), ttlMs: 500 },
      ]);
      expect(cache.stats().bytes).toBeLessThanOrEqual(4_000);
    }
    const { entities } = cache.stats();
    expect(entities).toBeGreaterThan(3);
    expect(entities).toBeLessThan(200);
    clock.now += 1_000;
    // Reading every live entity drops the expired "n" values; the bytes fall with them.
    const before = cache.stats().bytes;
    for (let i = 0; i < 200; i++) get(cache, "user", `u${i}`, "n", clock.now);
    expect(cache.stats().bytes).toBeLessThan(before);
    cache.clear();
    expect(cache.stats()).toMatchObject({ entries: 0, entities: 0, bytes: 0 });
  });

  it("refuses a single value too large for the cache instead of flushing everything else", () => {
    const { cache, clock } = clockedCache(1_000, 16_000);
    set(cache, "user", "small", "a", v(1), 60_000);
    set(cache, "user", "big", "blob", v("x".repeat(10_000)), 60_000);
    expect(get(cache, "user", "big", "blob", clock.now)).toEqual({ hit: false });
    expect(get(cache, "user", "small", "a", clock.now)).toMatchObject({ hit: true });
    expect(cache.stats().entities).toBe(1);
  });

  it("serves a 50-feature entity through entity() + slot() with one hit per value", () => {
    const { cache, clock } = clockedCache(1_000);
    const names = Array.from({ length: 50 }, (_, i) => `f${i}`);
    cache.setMany(
      "user",
      "u1",
      names.map((name, i) => ({ name, value: v(i), ttlMs: 60_000 })),
    );
    const e = cache.entity("user", "u1", clock.now);
    const values = names.map((n) => cache.slot(e, n, clock.now)?.value?.value);
    expect(values).toEqual(names.map((_, i) => i));
    expect(cache.stats()).toMatchObject({ hits: 50, misses: 0 });
    expect(cache.slot(cache.entity("user", "nobody", clock.now), "f0", clock.now)).toBeUndefined();
  });
});

describe("MemoryCache admission (repeat: TinyLFU's doorkeeper)", () => {
  const three = (cache: MemoryCache, id: string) =>
    cache.setMany(
      "user",
      id,
      ["a", "b", "c"].map((name) => ({ name, value: v(id), ttlMs: 60_000 })),
    );

  it("takes every entity while there is room, and a new one into a full cache only on its second try", () => {
    const { cache, clock } = clockedCache(6, 1024 * 1024, "repeat");
    three(cache, "u1");
    three(cache, "u2");
    expect(cache.stats()).toMatchObject({ entities: 2, declined: 0 });
    // Full: u3's first try is turned away and evicts nothing.
    three(cache, "u3");
    expect(get(cache, "user", "u3", "a", clock.now)).toEqual({ hit: false });
    expect(get(cache, "user", "u1", "a", clock.now)).toMatchObject({ hit: true });
    expect(get(cache, "user", "u2", "a", clock.now)).toMatchObject({ hit: true });
    expect(cache.stats()).toMatchObject({ entities: 2, declined: 1 });
    // Its second try gets in, evicting the least recently used entity (u1, not touched since).
    clock.now += MEMORY_LRU_TOUCH_INTERVAL_MS;
    expect(get(cache, "user", "u2", "a", clock.now)).toMatchObject({ hit: true });
    three(cache, "u3");
    expect(get(cache, "user", "u3", "a", clock.now)).toMatchObject({ hit: true });
    expect(get(cache, "user", "u1", "a", clock.now)).toEqual({ hit: false });
    expect(cache.stats()).toMatchObject({ entities: 2, entries: 6, declined: 1 });
  });

  it("always updates an entity already cached, full or not", () => {
    const { cache, clock } = clockedCache(3, 1024 * 1024, "repeat");
    three(cache, "u1");
    set(cache, "user", "u1", "a", v(9, 2_000), 60_000);
    expect(get(cache, "user", "u1", "a", clock.now)).toEqual({ hit: true, value: v(9, 2_000) });
    expect(cache.stats().declined).toBe(0);
  });

  it("under `always` a full cache takes every new entity (plain LRU)", () => {
    const { cache, clock } = clockedCache(6, 1024 * 1024, "always");
    for (const id of ["u1", "u2", "u3"]) three(cache, id);
    expect(get(cache, "user", "u3", "a", clock.now)).toMatchObject({ hit: true });
    expect(cache.stats()).toMatchObject({ entities: 2, declined: 0 });
  });

  it("keeps the hot head of a Zipf stream and inserts far less than LRU", () => {
    // 200 entities' room over 50,000 entities, Zipf(1.0): the one-hit wonders of the tail stay out.
    const run = (admission: L0Admission) => {
      const { cache, clock } = clockedCache(200 * 3, 1024 * 1024 * 64, admission);
      let seed = 7;
      const rand = () => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed / 2 ** 32;
      };
      const harmonic = Array.from({ length: 50_000 }, (_, i) => 1 / (i + 1)).reduce((a, b) => a + b, 0);
      const zipf = () => {
        let u = rand() * harmonic;
        for (let r = 1; ; r++) {
          u -= 1 / r;
          if (u <= 0 || r === 50_000) return r;
        }
      };
      let hits = 0;
      let inserts = 0;
      for (let i = 0; i < 20_000; i++) {
        const id = `e${zipf()}`;
        clock.now += 1;
        if (get(cache, "user", id, "a", clock.now).hit) hits++;
        else {
          three(cache, id);
          if (cache.entity("user", id, clock.now)) inserts++;
        }
      }
      return { hits, inserts };
    };
    const lru = run("always");
    const door = run("repeat");
    expect(door.hits).toBeGreaterThanOrEqual(lru.hits);
    expect(door.inserts * 2).toBeLessThan(lru.inserts);
  });
});

describe("Doorkeeper", () => {
  it("says no on first sight and yes after, and forgets everything after its window", () => {
    const d = new Doorkeeper(100, 1 << 12);
    expect(d.seenBefore("user\u0000u1")).toBe(false);
    expect(d.seenBefore("user\u0000u1")).toBe(true);
    expect(d.seenBefore("track\u0000u1")).toBe(false);
    for (let i = 0; i < 98; i++) d.seenBefore(`filler${i}`);
    // The 100th new key cleared the filter.
    expect(d.seenBefore("user\u0000u1")).toBe(false);
  });

  it("gives few false 'seen before' for a full window at the default size", () => {
    let falsePositives = 0;
    // Default bits, a window's worth of keys recorded (a long window so that probing does not clear it).
    const probe = new Doorkeeper(1_000_000);
    for (let i = 0; i < 9_999; i++) probe.seenBefore(`user\u0000seen_${i}`);
    for (let i = 0; i < 5_000; i++) if (probe.seenBefore(`user\u0000never_${i}`)) falsePositives++;
    expect(falsePositives / 5_000).toBeLessThan(0.03);
    expect(() => new Doorkeeper(10, 1000)).toThrow(/power of two/);
  });
});

/** Runs `fn` with console.error captured, handing it the messages logged so far. */
function withErrors(fn: (errors: string[]) => void): void {
  const errors: string[] = [];
  const original = console.error;
  // Each report is one structured log line; its message is what an operator reads.
  console.error = (line: string) => errors.push((JSON.parse(line) as { message: string }).message);
  try {
    fn(errors);
  } finally {
    console.error = original;
  }
}

describe("L0 bounds from vars (L0_MAX_VALUES, L0_MAX_MB)", () => {
  it("takes positive integers, falls back on unset, and reports malformed values instead of failing", () => {
    withErrors((errors) => {
      expect(positiveIntVar({ L0_MAX_VALUES: "5000" }, "L0_MAX_VALUES", 7)).toBe(5000);
      expect(positiveIntVar({}, "L0_MAX_VALUES", 7)).toBe(7);
      expect(positiveIntVar({ L0_MAX_VALUES: "" }, "L0_MAX_VALUES", 7)).toBe(7);
      expect(errors).toEqual([]);
      for (const bad of ["-1", "0", "1.5", "lots"]) expect(positiveIntVar({ L0_MAX_MB: bad }, "L0_MAX_MB", 36)).toBe(36);
      expect(errors).toHaveLength(4);
      expect(errors[0]).toContain('L0_MAX_MB="-1" is not a positive integer');
    });
  });
});

describe("choice vars (KV_WRITE_BACK, L0_ADMISSION)", () => {
  it("a MemoryCache is plain LRU unless asked for repeat admission", () => {
    const cache = new MemoryCache(3);
    for (const id of ["u1", "u2"])
      cache.setMany(
        "user",
        id,
        ["a", "b", "c"].map((name) => ({ name, value: v(id), ttlMs: 60_000 })),
      );
    expect(get(cache, "user", "u2", "a")).toMatchObject({ hit: true });
    expect(cache.stats().declined).toBe(0);
  });

  const modes = ["repeat", "on", "off"] as const;
  it("reads the choices and on/off spellings in any case, falls back when unset, reports anything else", () => {
    withErrors((errors) => {
      for (const v of ["off", "OFF", "false", "0", " Off "])
        expect(choiceVar({ KV_WRITE_BACK: v }, "KV_WRITE_BACK", modes, "repeat", ON_OFF_ALIASES)).toBe("off");
      for (const v of ["on", "true", "1", "TRUE"])
        expect(choiceVar({ KV_WRITE_BACK: v }, "KV_WRITE_BACK", modes, "repeat", ON_OFF_ALIASES)).toBe("on");
      expect(choiceVar({ KV_WRITE_BACK: "Repeat" }, "KV_WRITE_BACK", modes, "off", ON_OFF_ALIASES)).toBe("repeat");
      expect(choiceVar({}, "KV_WRITE_BACK", modes, "repeat", ON_OFF_ALIASES)).toBe("repeat");
      expect(choiceVar({ L0_ADMISSION: "always" }, "L0_ADMISSION", ["repeat", "always"], "repeat")).toBe("always");
      expect(errors).toEqual([]);
      expect(choiceVar({ KV_WRITE_BACK: "nope" }, "KV_WRITE_BACK", modes, "repeat", ON_OFF_ALIASES)).toBe("repeat");
      // Without aliases, "true" is not a choice.
      expect(choiceVar({ L0_ADMISSION: "true" }, "L0_ADMISSION", ["repeat", "always"], "repeat")).toBe("repeat");
      expect(errors).toEqual([
        'KV_WRITE_BACK="nope" is not one of repeat, on, off; using the default repeat',
        'L0_ADMISSION="true" is not one of repeat, always; using the default repeat',
      ]);
    });
  });
});
