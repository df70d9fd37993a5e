// Per-tier circuit breaker and deadline: a failing tier is skipped for a while instead of slowing every read.
export const BREAKER_FAILURE_THRESHOLD = 3;
export const BREAKER_OPEN_MS = 5_000;

export class TierTimeoutError extends Error {}

export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  constructor(
    readonly tier: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Closed, or open long enough ago that one trial call may go through (half-open). */
  get available(): boolean {
    return this.failures < BREAKER_FAILURE_THRESHOLD || this.now() >= this.openUntil;
  }

  get state(): "closed" | "open" | "half_open" {
    if (this.failures < BREAKER_FAILURE_THRESHOLD) return "closed";
    return this.now() >= this.openUntil ? "half_open" : "open";
  }

  success(): void {
    this.failures = 0;
  }

  failure(): void {
    this.failures++;
    if (this.failures >= BREAKER_FAILURE_THRESHOLD) this.openUntil = this.now() + BREAKER_OPEN_MS;
  }

  /** Runs fn under a deadline; outcome feeds the breaker. */
  async run<T>(fn: () => Promise<T>, deadlineMs: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const result = await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TierTimeoutError(`${this.tier} did not answer within ${deadlineMs} ms`)), deadlineMs);
        }),
      ]);
      this.success();
      return result;
    } catch (err) {
      this.failure();
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
