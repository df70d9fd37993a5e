// What every scenario gets: the config, the running stack, clients and the loaded key sets.
import type { BenchConfig } from "../lib/config";
import type { Universe, VectorName } from "../lib/dataset";
import type { HttpClient, HttpResult } from "../lib/http";
import type { BenchStack } from "../lib/stack";

export interface TierSets {
  /** Entities in KV only, read once to warm L0, then re-read (l0-hit). */
  l0: string[];
  /** Entities in exactly one tier: each request reads a distinct, never-read entity. */
  kv: string[];
  durableObject: string[];
  /** Durable Objects read by the loader Worker directly (the do-get floor), never by serving. */
  durableObjectFloor: string[];
  redis: string[];
  postgres: string[];
  /** Postgres-only entities for the stampede. */
  cold: string[];
}

export interface BenchContext {
  cfg: BenchConfig;
  stack: BenchStack;
  serving: HttpClient;
  ingest: HttpClient;
  bare: HttpClient;
  loader: HttpClient;
  universe: Universe;
  loadedAt: number;
  sets: TierSets;
  names: Record<VectorName, string[]>;
  log: (message: string) => void;
}

export interface FeatureMeta {
  status: string;
  tier: string | null;
}

export interface FeatureResponseBody {
  entity_id: string;
  features: Record<string, unknown>;
  metadata?: Record<string, FeatureMeta>;
}

export function parseBody<T>(res: HttpResult): T {
  return JSON.parse(res.body.toString()) as T;
}

/** A response whose every feature is PRESENT and (when given) served by `tier`; else what is wrong. */
export function expectServed(res: HttpResult, tier?: string): string | undefined {
  const items = ([] as FeatureResponseBody[]).concat(parseBody<FeatureResponseBody | FeatureResponseBody[]>(res));
  for (const item of items) {
    for (const [name, m] of Object.entries(item.metadata ?? {})) {
      if (m.status !== "PRESENT") return `${item.entity_id} ${name}: ${m.status}`;
      if (tier && m.tier !== tier) return `${item.entity_id} ${name}: served by ${m.tier}, expected ${tier}`;
    }
  }
  return undefined;
}
