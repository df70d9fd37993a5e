// Per-caller rate limiting of both Workers: Cloudflare's rate-limiting binding in production, an in-isolate token bucket elsewhere.
//
// One port (`RateLimiter.take(key)`) with two implementations, chosen from the env in one place
// (`rateLimiterFor`): the `RATE_LIMITER` binding when wrangler gives one (staging and production
// declare it, see wrangler*.toml), else a token bucket per key in this isolate (dev stack, tests,
// bench), sized by RATE_LIMIT_PER_SECOND and RATE_LIMIT_BURST. The caller is keyed by the SHA-256
// hash of its API key when the key is known (never the raw key: the binding's keys and our memory
// must not hold secrets), else by its IP (CF-Connecting-IP): random wrong keys do not buy a fresh
// budget each.
import type { Env, MiddlewareHandler } from "hono";
import { positiveIntVar } from "../config/vars";
import { type ApiKeyEntry, findApiKey, requestKeyHash } from "../core/auth";
import { errorBody, errorMessage, FeatureStoreError } from "../core/errors";
import { log } from "../core/log";

/** Sustained requests per second per caller per isolate of the local bucket (RATE_LIMIT_PER_SECOND). */
export const DEFAULT_RATE_LIMIT_PER_SECOND = 10_000;
/** Requests a caller may send at once before the sustained rate applies (RATE_LIMIT_BURST). */
export const DEFAULT_RATE_LIMIT_BURST = 20_000;
/**
 * The window of the production binding (`simple.period` in wrangler*.toml, 10 or 60 s): the binding
 * answers only success or not, so Retry-After is the whole window. Keep equal to the toml.
 */
export const BINDING_PERIOD_SECONDS = 10;
/** Callers the local bucket remembers; the least recently seen is forgotten first (it is the fullest). */
export const MAX_TRACKED_CALLERS = 10_000;

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until a request of this caller can pass again (only when not allowed). */
  retryAfterSeconds: number;
}

/** What decides whether a caller's request may go on. */
export interface RateLimiter {
  readonly kind: "binding" | "local";
  take(key: string): Promise<RateDecision>;
}

/** The env a rate limiter is built from (both Workers). */
export interface RateLimitEnv {
  RATE_LIMITER?: RateLimit;
  RATE_LIMIT_PER_SECOND?: string;
  RATE_LIMIT_BURST?: string;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per key: `burst` tokens, refilled at `perSecond`; one request takes one token. */
export class LocalRateLimiter implements RateLimiter {
  readonly kind = "local";
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  async take(key: string): Promise<RateDecision> {
    const now = this.now();
    const seen = this.buckets.get(key);
    const tokens = seen ? Math.min(this.burst, seen.tokens + ((now - seen.at) / 1000) * this.perSecond) : this.burst;
    // Re-inserted so the Map's order is least recently seen first, which is what eviction drops.
    this.buckets.delete(key);
    if (this.buckets.size >= MAX_TRACKED_CALLERS) this.buckets.delete(this.buckets.keys().next().value as string);
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now });
      return { allowed: true, retryAfterSeconds: 0 };
    }
    this.buckets.set(key, { tokens, at: now });
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.perSecond)) };
  }
}

/** Cloudflare's rate-limiting binding: counted per Cloudflare location, in fixed windows of BINDING_PERIOD_SECONDS. */
export class BindingRateLimiter implements RateLimiter {
  readonly kind = "binding";
  constructor(private readonly binding: RateLimit) {}

  async take(key: string): Promise<RateDecision> {
    try {
      const { success } = await this.binding.limit({ key });
      return { allowed: success, retryAfterSeconds: success ? 0 : BINDING_PERIOD_SECONDS };
    } catch (err) {
      // The limiter protects the tiers; its own outage must not refuse every caller.
      log("warn", "rate_limiter_failed", { error: errorMessage(err) });
      return { allowed: true, retryAfterSeconds: 0 };
    }
  }
}

/** The binding when the Worker has one, else the local bucket with the vars' sizes. */
export function rateLimiterFor(env: RateLimitEnv, now: () => number = Date.now): RateLimiter {
  if (env.RATE_LIMITER) return new BindingRateLimiter(env.RATE_LIMITER);
  return new LocalRateLimiter(
    positiveIntVar(env, "RATE_LIMIT_PER_SECOND", DEFAULT_RATE_LIMIT_PER_SECOND),
    positiveIntVar(env, "RATE_LIMIT_BURST", DEFAULT_RATE_LIMIT_BURST),
    now,
  );
}

/** `key:<sha256 of the API key>` for a known key, else `ip:<CF-Connecting-IP>` (also for unknown keys). */
export function callerKey(hash: string | undefined, ip: string | undefined, keys: ReadonlyMap<string, ApiKeyEntry>): string {
  if (hash && findApiKey(hash, keys)) return `key:${hash}`;
  return `ip:${ip ?? "unknown"}`;
}

/**
 * Middleware of every route: 429 with Retry-After and our error shape once the caller's budget is
 * spent. Runs before authentication, so floods of bad keys are throttled too.
 */
export function rateLimitRequests<E extends Env>(
  deps: (c: Parameters<MiddlewareHandler<E>>[0]) => {
    limiter: RateLimiter;
    keys: ReadonlyMap<string, ApiKeyEntry>;
  },
): MiddlewareHandler<E> {
  return async (c, next) => {
    const { limiter, keys } = deps(c);
    const key = callerKey(await requestKeyHash(c.req.raw), c.req.header("cf-connecting-ip"), keys);
    const decision = await limiter.take(key);
    if (decision.allowed) return next();
    const err = new FeatureStoreError(
      "rate_limited",
      `Too many requests from this ${key.startsWith("key:") ? "API key" : "client"}; retry after ${decision.retryAfterSeconds} s`,
      { retry_after_seconds: decision.retryAfterSeconds },
    );
    return c.json(errorBody(err), 429, { "Retry-After": String(decision.retryAfterSeconds) });
  };
}
