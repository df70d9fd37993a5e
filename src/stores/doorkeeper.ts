// Admission filter for the isolate's caches: remembers which keys were seen recently, in a Bloom filter.
//
// Under long-tail traffic most keys that miss a cache are read once and never again before they
// would be evicted ("one-hit wonders"). Caching them costs an insert, an eviction of something
// useful and, in a Worker, garbage that V8 promotes to the old generation and must later collect in
// a full, stop-the-world pause. TinyLFU's doorkeeper admits a key only on its second miss within
// a window: the first miss only sets a few bits here.
//
// The filter is one typed array (no object per key, nothing for the GC to trace) and is cleared
// after `window` new keys, so "seen before" means seen within roughly the last `window` misses.

/** Keys recorded before the filter is cleared (TinyLFU's sample: ~10× the cache's entries). */
export const DOORKEEPER_WINDOW = 10_000;
/** Filter bits: with 3 hashes and a full window, about 1% false "seen before". */
export const DOORKEEPER_BITS = 1 << 17;
const HASHES = 3;

export class Doorkeeper {
  private readonly words: Uint32Array;
  private readonly mask: number;
  private added = 0;

  constructor(
    private readonly window = DOORKEEPER_WINDOW,
    bits = DOORKEEPER_BITS,
  ) {
    if (!Number.isInteger(Math.log2(bits)) || bits < 32) throw new Error(`Doorkeeper bits must be a power of two ≥ 32, got ${bits}`);
    this.words = new Uint32Array(bits / 32);
    this.mask = bits - 1;
  }

  /**
   * True when `key` was recorded since the last clear (or, rarely, a false positive); otherwise
   * records it and returns false.
   */
  seenBefore(key: string): boolean {
    // FNV-1a, then double hashing for the other probes.
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const h2 = (Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0) | 1;
    let seen = true;
    for (let k = 0; k < HASHES; k++) {
      const bit = (h + Math.imul(k, h2)) & this.mask;
      const word = bit >>> 5;
      const flag = 1 << (bit & 31);
      if ((this.words[word]! & flag) === 0) {
        seen = false;
        this.words[word] = this.words[word]! | flag;
      }
    }
    if (!seen && ++this.added >= this.window) this.clear();
    return seen;
  }

  clear(): void {
    this.words.fill(0);
    this.added = 0;
  }
}
