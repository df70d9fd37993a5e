// Retry policy of the client: exponential backoff with full jitter, Retry-After honoured, bounded.

export interface RetryOptions {
  /** Attempts after the first (default 3). */
  retries?: number;
  /** First backoff ceiling in ms (default 100); attempt n waits up to base × 2^(n-1), capped. */
  baseDelayMs?: number;
  /** Largest wait between attempts, also for Retry-After (default 5,000 ms). */
  maxDelayMs?: number;
}

export const DEFAULT_RETRIES = 3;
export const DEFAULT_BASE_DELAY_MS = 100;
export const DEFAULT_MAX_DELAY_MS = 5_000;

/** Statuses worth another try: rate limited, or the service (or a tier below it) unavailable. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/**
 * The wait before retry `attempt` (1-based): Retry-After when the server sent one (seconds or an
 * HTTP date), else full jitter, uniformly in [0, min(max, base × 2^(attempt-1))] (AWS's "full
 * jitter": spreads retrying clients out so they do not return in lockstep).
 */
export function retryDelayMs(
  attempt: number,
  retryAfter: string | null,
  opts: RetryOptions = {},
  random: () => number = Math.random,
  now: number = Date.now(),
): number {
  const max = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  if (retryAfter) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - now;
    if (Number.isFinite(ms)) return Math.min(max, Math.max(0, ms));
  }
  const ceiling = Math.min(max, (opts.baseDelayMs ?? DEFAULT_BASE_DELAY_MS) * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
