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
  /** "off" stops the serving Worker writing Redis/Postgres hits back to KV (default on). */
  KV_WRITE_BACK?: string;
}

/**
 * A positive integer var, or `fallback` when unset. A malformed value is reported and ignored: a
 * typo in a tuning knob must not take serving down.
 */
export function positiveIntVar(env: Record<string, unknown>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return n;
  console.error(`${name}=${JSON.stringify(raw)} is not a positive integer; using the default ${fallback}`);
  return fallback;
}

/**
 * A var with a fixed set of values (case-insensitive; `aliases` maps extra spellings such as
 * "true" → "on"), or `fallback` when unset; anything else is reported and ignored.
 */
export function choiceVar<T extends string>(env: Record<string, unknown>, name: string, choices: readonly T[], fallback: T, aliases: Record<string, T> = {}): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = String(raw).trim().toLowerCase();
  const hit = choices.find((c) => c === v) ?? aliases[v];
  if (hit) return hit;
  console.error(`${name}=${JSON.stringify(raw)} is not one of ${choices.join(", ")}; using the default ${fallback}`);
  return fallback;
}

/** "true"/"1" and "false"/"0" for a var whose values include on and off. */
export const ON_OFF_ALIASES = { true: "on", "1": "on", false: "off", "0": "off" } as const;
