// The hedge policy's numbers: the delay is a tier's p95 with a floor, only after enough reads; the bucket caps hedges.
import { describe, expect, it } from "vitest";
import { HEDGE_MIN_DELAY_MS, HEDGE_MIN_SAMPLES, HedgePolicy } from "../../src/stores/hedge-policy";

describe("HedgePolicy", () => {
  it("waits for the tier's p95 (never under the floor), only once it has enough reads, and not at the deadline", () => {
    const p = new HedgePolicy();
    for (let i = 0; i < HEDGE_MIN_SAMPLES - 1; i++) p.record("kv", 10);
    expect(p.delayFor("kv", 150)).toBeUndefined();
    p.record("kv", 10);
    expect(p.delayFor("kv", 150)).toBe(10);
    // 100 reads: 94 at 2 ms, 6 at 40 ms → the p95 is 40 ms; reads of 1 ms → the floor.
    const q = new HedgePolicy();
    for (let i = 0; i < 94; i++) q.record("kv", 2);
    for (let i = 0; i < 6; i++) q.record("kv", 40);
    expect(q.delayFor("kv", 150)).toBe(40);
    expect(q.delayFor("kv", 40)).toBeUndefined();
    const fast = new HedgePolicy();
    for (let i = 0; i < 50; i++) fast.record("redis", 1);
    expect(fast.delayFor("redis", 150)).toBe(HEDGE_MIN_DELAY_MS);
    expect(fast.delayFor("postgres", 150)).toBeUndefined();
  });

  it("allows `rate` hedges per fetch after the burst is spent, and counts refusals", () => {
    const p = new HedgePolicy({ burst: 2, rate: 0.25 });
    expect([p.take(), p.take(), p.take()]).toEqual([true, true, false]);
    for (let i = 0; i < 4; i++) p.credit();
    expect([p.take(), p.take()]).toEqual([true, false]);
    expect(p.capped).toBe(2);
    for (let i = 0; i < 100; i++) p.credit();
    expect([p.take(), p.take(), p.take()]).toEqual([true, true, false]);
  });
});
