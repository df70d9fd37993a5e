// Sizes, durations and rates of a bench run: the full default and --quick (at most 2 minutes).

export type BenchMode = "full" | "quick";

export interface BenchConfig {
  mode: BenchMode;
  /** Entities in the mixed-workload universe, per type (Postgres holds all of them × 50 features). */
  entities: { user: number; track: number; artist: number };
  /** Entities (the most popular by Zipf rank) whose batch row is materialized into Workers KV. */
  kvHotEntities: number;
  /** Every universe entity also has its Redis hash (as ingest writes every value to L2). */
  redisAllEntities: boolean;
  featuresPerVector: number;
  /** Sequential (one in flight) requests per single-entity scenario. */
  requests: { bare: number; redisHmget: number; l0: number; kv: number; durableObject: number; redis: number; postgres: number };
  /** Concurrency of the saturation pass run after bare-hono and l0-hit (max rps). */
  saturationConcurrency: number;
  saturationSeconds: number;
  warmupRequests: number;
  batches: { size10: number; size100: number };
  mixed: { ratePerSecond: number; seconds: number; warmupSeconds: number; zipfExponent: number };
  stampede: { concurrency: number; coldKeys: number };
  ingest: { messages: number; updatesPerPush: number; featuresPerMessage: number; entities: number; pushConcurrency: number };
  freshness: { pushes: number; pushesPerSecond: number; pollIntervalMs: number; timeoutMs: number };
  training: { spineRows: number };
}

export const FULL: BenchConfig = {
  mode: "full",
  entities: { user: 500_000, track: 350_000, artist: 150_000 },
  kvHotEntities: 500_000,
  redisAllEntities: true,
  featuresPerVector: 50,
  requests: { bare: 5_000, redisHmget: 5_000, l0: 5_000, kv: 2_000, durableObject: 1_000, redis: 1_000, postgres: 300 },
  saturationConcurrency: 16,
  saturationSeconds: 5,
  warmupRequests: 300,
  batches: { size10: 500, size100: 200 },
  mixed: { ratePerSecond: 400, seconds: 60, warmupSeconds: 10, zipfExponent: 1.0 },
  stampede: { concurrency: 50, coldKeys: 10 },
  ingest: { messages: 5_000, updatesPerPush: 100, featuresPerMessage: 5, entities: 1_000, pushConcurrency: 4 },
  freshness: { pushes: 200, pushesPerSecond: 10, pollIntervalMs: 20, timeoutMs: 10_000 },
  training: { spineRows: 100_000 },
};

export const QUICK: BenchConfig = {
  mode: "quick",
  entities: { user: 10_000, track: 7_000, artist: 3_000 },
  kvHotEntities: 20_000,
  redisAllEntities: true,
  featuresPerVector: 50,
  requests: { bare: 1_500, redisHmget: 1_500, l0: 1_500, kv: 400, durableObject: 200, redis: 300, postgres: 60 },
  saturationConcurrency: 16,
  saturationSeconds: 2,
  warmupRequests: 100,
  batches: { size10: 100, size100: 40 },
  mixed: { ratePerSecond: 300, seconds: 12, warmupSeconds: 3, zipfExponent: 1.0 },
  stampede: { concurrency: 50, coldKeys: 3 },
  ingest: { messages: 2_000, updatesPerPush: 100, featuresPerMessage: 5, entities: 400, pushConcurrency: 4 },
  freshness: { pushes: 100, pushesPerSecond: 20, pollIntervalMs: 20, timeoutMs: 10_000 },
  training: { spineRows: 10_000 },
};

export function totalEntities(cfg: BenchConfig): number {
  return cfg.entities.user + cfg.entities.track + cfg.entities.artist;
}
