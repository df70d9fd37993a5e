// Hedged tier reads (Dean & Barroso, "The Tail at Scale"): when to ask the next tier, and how often one may.

/** A tier's hedge delay is its p95 over this many recent reads (a ring buffer). */
export const HEDGE_WINDOW = 128;
/** Below this many samples a tier is not hedged: a p95 of a handful of reads says nothing. */
export const HEDGE_MIN_SAMPLES = 20;
/** The p95 is re-taken every this many samples, not on every read (a sort of the window). */
export const HEDGE_RECOMPUTE_EVERY = 16;
/**
 * The delay never goes under this: a tier that answers in 1–2 ms would otherwise be hedged on every
 * scheduling hiccup, doubling the load on the next tier for no tail gain.
 */
export const HEDGE_MIN_DELAY_MS = 5;
/** Hedges allowed per backend fetch on average (a token bucket): 5% more load on the next tier at most. */
export const HEDGE_RATE = 0.05;
/** Tokens the bucket holds at most: a burst of slow reads may be hedged this many times in a row. */
export const HEDGE_BURST = 10;

export interface HedgeOptions {
  /** Floor of the delay (default HEDGE_MIN_DELAY_MS). */
  minDelayMs?: number;
  /** Hedges per fetch (default HEDGE_RATE). */
  rate?: number;
  /** Bucket size (default HEDGE_BURST). */
  burst?: number;
  /** Samples before a tier is hedged (default HEDGE_MIN_SAMPLES). */
  minSamples?: number;
  /** Clock of the latency window (default performance.now). */
  clock?: () => number;
}

/** One tier's recent read latencies and the p95 taken from them. */
class LatencyWindow {
  private readonly samples = new Float64Array(HEDGE_WINDOW);
  private count = 0;
  private sinceRecompute = 0;
  private p95 = Number.POSITIVE_INFINITY;

  add(ms: number): void {
    this.samples[this.count % HEDGE_WINDOW] = ms;
    this.count++;
    if (++this.sinceRecompute >= HEDGE_RECOMPUTE_EVERY || this.count === HEDGE_MIN_SAMPLES) this.recompute();
  }

  /** The p95, or undefined before `minSamples` reads. */
  quantile(minSamples: number): number | undefined {
    if (this.count < minSamples) return undefined;
    if (this.p95 === Number.POSITIVE_INFINITY) this.recompute();
    return this.p95;
  }

  private recompute(): void {
    this.sinceRecompute = 0;
    const n = Math.min(this.count, HEDGE_WINDOW);
    const sorted = this.samples.slice(0, n).sort();
    this.p95 = sorted[Math.min(n - 1, Math.floor(n * 0.95))]!;
  }
}

/** Hedges sent and won, by the slow tier and the tier asked instead. */
export interface HedgeCount {
  tier: string;
  hedgeTier: string;
  sent: number;
  won: number;
}

/**
 * The policy of the tier loop: per tier a latency window (a read's latency is recorded whether its
 * answer was used or dropped), a delay from it, and one token bucket for every hedge of the store.
 */
export class HedgePolicy {
  private readonly windows = new Map<string, LatencyWindow>();
  private readonly minDelayMs: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly minSamples: number;
  readonly clock: () => number;
  private tokens: number;
  private readonly counts = new Map<string, HedgeCount>();
  /** Hedges wanted but refused by the bucket. */
  capped = 0;

  constructor(opts: HedgeOptions = {}) {
    this.minDelayMs = opts.minDelayMs ?? HEDGE_MIN_DELAY_MS;
    this.rate = opts.rate ?? HEDGE_RATE;
    this.burst = opts.burst ?? HEDGE_BURST;
    this.minSamples = opts.minSamples ?? HEDGE_MIN_SAMPLES;
    this.clock = opts.clock ?? (() => performance.now());
    this.tokens = this.burst;
  }

  record(tier: string, ms: number): void {
    let w = this.windows.get(tier);
    if (!w) {
      w = new LatencyWindow();
      this.windows.set(tier, w);
    }
    w.add(ms);
  }

  /** How long to wait for the tier before hedging, or undefined when it is not hedged (yet). */
  delayFor(tier: string, deadlineMs: number): number | undefined {
    const p95 = this.windows.get(tier)?.quantile(this.minSamples);
    if (p95 === undefined) return undefined;
    const delay = Math.max(this.minDelayMs, p95);
    // A delay at the deadline would hedge a read that is being abandoned anyway.
    return delay < deadlineMs ? delay : undefined;
  }

  /** One backend fetch happened: it earns a fraction of a hedge. */
  credit(): void {
    this.tokens = Math.min(this.burst, this.tokens + this.rate);
  }

  /** Takes a token for a hedge; false (and counted as capped) when the bucket is empty. */
  take(): boolean {
    if (this.tokens < 1) {
      this.capped++;
      return false;
    }
    this.tokens--;
    return true;
  }

  sent(tier: string, hedgeTier: string): void {
    this.count(tier, hedgeTier).sent++;
  }

  won(tier: string, hedgeTier: string): void {
    this.count(tier, hedgeTier).won++;
  }

  hedgeCounts(): readonly HedgeCount[] {
    return [...this.counts.values()];
  }

  private count(tier: string, hedgeTier: string): HedgeCount {
    const key = `${tier}>${hedgeTier}`;
    let c = this.counts.get(key);
    if (!c) {
      c = { tier, hedgeTier, sent: 0, won: 0 };
      this.counts.set(key, c);
    }
    return c;
  }
}
