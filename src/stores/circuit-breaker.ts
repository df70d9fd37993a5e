// Per-tier circuit breaker and deadline: a failing tier is skipped for a while instead of slowing every read.
import { expired, withDeadline } from "../core/deadline";

/** Consecutive failures that open the breaker. */
export const BREAKER_FAILURE_THRESHOLD = 3;
/** How long an open breaker skips its tier before one trial call may test it again. */
export const BREAKER_OPEN_MS = 5_000;

export type BreakerState = "closed" | "open" | "half_open";

/**
 * closed → (BREAKER_FAILURE_THRESHOLD failures in a row) → open → (BREAKER_OPEN_MS) → half-open, where
 * exactly one caller's trial call goes through: its success closes the breaker, its failure opens it
 * again for another BREAKER_OPEN_MS. Callers that arrive while the trial is out are skipped, as when open.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private trialInFlight = false;

  constructor(
    readonly tier: string,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.failures < BREAKER_FAILURE_THRESHOLD) return "closed";
    return this.now() >= this.openUntil ? "half_open" : "open";
  }

  /** May a call go through now? In half-open, true for the one caller that takes the trial. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    if (state === "open" || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.trialInFlight = false;
  }

  failure(): void {
    this.failures++;
    this.trialInFlight = false;
    if (this.failures >= BREAKER_FAILURE_THRESHOLD) this.openUntil = this.now() + BREAKER_OPEN_MS;
  }

  /**
   * Runs fn under a deadline, if the breaker lets it through (`undefined` when it does not); the
   * outcome feeds the breaker.
   */
  async run<T>(fn: () => Promise<T>, deadlineMs: number): Promise<{ value: T } | undefined> {
    if (!this.tryAcquire()) return undefined;
    try {
      const value = await withDeadline(fn(), deadlineMs, expired(this.tier, deadlineMs));
      this.success();
      return { value };
    } catch (err) {
      this.failure();
      throw err;
    }
  }
}
