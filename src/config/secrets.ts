// Secrets and optional vars shared by both Workers (wrangler secret put / .dev.vars); not in wrangler.toml.
export interface WorkerSecrets {
  /** Postgres (Neon) connection string; unset means the Postgres tier is off. */
  DATABASE_URL?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  /** Comma-separated `sha256hex:scope1+scope2` entries (sha256 of the key, hex; see README). */
  API_KEYS?: string;
  /** Prefix of every Redis key, so tests and environments can share one Redis. */
  REDIS_KEY_PREFIX?: string;
  /** L0 bound in cached feature values (serving; default MEMORY_MAX_ENTRIES). */
  L0_MAX_VALUES?: string;
  /** L0 bound in estimated megabytes (serving; default MEMORY_MAX_BYTES). */
  L0_MAX_MB?: string;
  /** KV write-backs of Redis/Postgres hits: repeat (default), on, off (serving). */
  KV_WRITE_BACK?: string;
  /** Hedged tier reads: on (default) or off (serving; src/stores/hedge-policy.ts). */
  HEDGE?: string;
  /** L0 admission when full: always (default, LRU) or repeat (serving). */
  L0_ADMISSION?: string;
  /** Cloudflare's rate-limiting binding ([[env.*.ratelimits]] in wrangler*.toml); absent → the local bucket. */
  RATE_LIMITER?: RateLimit;
  /** Local bucket: sustained requests per second per caller per isolate (default DEFAULT_RATE_LIMIT_PER_SECOND). */
  RATE_LIMIT_PER_SECOND?: string;
  /** Local bucket: requests a caller may send at once (default DEFAULT_RATE_LIMIT_BURST). */
  RATE_LIMIT_BURST?: string;
  /** GET /metrics: "key" (default; a key with the metrics or admin scope) or "public" (wrangler.toml's dev vars). */
  METRICS_AUTH?: string;
}
