// Secrets and optional vars shared by both Workers (wrangler secret put / .dev.vars); not in wrangler.toml.
export interface WorkerSecrets {
  /** Postgres (Neon) connection string; unset means the Postgres tier is off. */
  DATABASE_URL?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  /** Comma-separated `sha256hex:scope1+scope2` entries (npm run keys -- hash KEY). */
  API_KEYS?: string;
  /** Dev-only plaintext key with every scope (FEATURE_STORE_DEV_KEY in npm run dev). */
  DEV_API_KEY?: string;
  /** Prefix of every Redis key, so tests and environments can share one Redis. */
  REDIS_KEY_PREFIX?: string;
}
