// Circuit breaker: closed → open after repeated failures → half-open with exactly one trial call.
import { describe, expect, it } from "vitest";
import { BREAKER_FAILURE_THRESHOLD, BREAKER_OPEN_MS, CircuitBreaker } from "../../src/stores/circuit-breaker";

const fail = () => Promise.reject(new Error("tier down"));

async function openBreaker(clock: { now: number }) {
  const breaker = new CircuitBreaker("redis", () => clock.now);
  for (let i = 0; i < BREAKER_FAILURE_THRESHOLD; i++) await expect(breaker.run(fail, 100)).rejects.toThrow("tier down");
  return breaker;
}

describe("CircuitBreaker", () => {
  it("opens after the threshold of failures in a row and skips calls while open", async () => {
    const clock = { now: 0 };
    const breaker = await openBreaker(clock);
    expect(breaker.state).toBe("open");
    let calls = 0;
    expect(await breaker.run(async () => ++calls, 100)).toBeUndefined();
    expect(calls).toBe(0);
  });

  it("half-open lets exactly one of many concurrent callers through; its success closes the breaker", async () => {
    const clock = { now: 0 };
    const breaker = await openBreaker(clock);
    clock.now += BREAKER_OPEN_MS;
    expect(breaker.state).toBe("half_open");
    let calls = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const trial = async () => {
      calls++;
      await gate;
      return "ok";
    };
    const outcomes = Array.from({ length: 10 }, () => breaker.run(trial, 1_000));
    release();
    const settled = await Promise.all(outcomes);
    expect(calls).toBe(1);
    expect(settled.filter((o) => o !== undefined)).toEqual([{ value: "ok" }]);
    expect(breaker.state).toBe("closed");
    expect(await breaker.run(async () => "again", 100)).toEqual({ value: "again" });
  });

  it("a failed trial opens the breaker for another full period", async () => {
    const clock = { now: 0 };
    const breaker = await openBreaker(clock);
    clock.now += BREAKER_OPEN_MS;
    await expect(breaker.run(fail, 100)).rejects.toThrow("tier down");
    expect(breaker.state).toBe("open");
    clock.now += BREAKER_OPEN_MS - 1;
    expect(breaker.state).toBe("open");
    clock.now += 1;
    expect(breaker.state).toBe("half_open");
  });

  it("a call slower than the deadline fails and counts toward opening", async () => {
    const breaker = new CircuitBreaker("kv");
    const never = () => new Promise<never>(() => undefined);
    await expect(breaker.run(never, 10)).rejects.toThrow("kv did not answer within 10 ms");
    await expect(breaker.run(never, 10)).rejects.toThrow();
    expect(breaker.state).toBe("closed");
    await expect(breaker.run(never, 10)).rejects.toThrow();
    expect(breaker.state).toBe("open");
  });
});
