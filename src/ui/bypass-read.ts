// The entity lookup's "bypass caches": the same FeatureService over the tiers below the caches (no L0 memory, no KV).
import type { FeatureErrorResult, FeatureRequest, FeatureResponse } from "../core/feature-request";
import type { CompiledRegistry } from "../core/registry";
import type { ServingContext } from "../serving/context";
import { FeatureService } from "../serving/feature-service";
import { MemoryCache } from "../stores/memory-cache";
import { TieredFeatureStore } from "../stores/tiered-feature-store";

/**
 * Serves `requests` from the Durable Objects, Redis and Postgres only. Its L0 is new and tiny, so no value
 * comes from this isolate's memory; KV is left out of the read order, so none comes from KV either.
 */
export async function serveBypassingCaches(
  deps: ServingContext,
  registry: CompiledRegistry,
  requests: FeatureRequest[],
  waitUntil: (p: Promise<unknown>) => void,
): Promise<(FeatureResponse | FeatureErrorResult)[]> {
  const t = deps.tiers;
  const levels = [[t.durableObject, t.aggregates], [t.redis], [t.postgres]]
    .map((level) => level.filter((s) => s !== undefined))
    .filter((level) => level.length > 0);
  const store = new TieredFeatureStore(levels, new MemoryCache(1, 1024));
  return new FeatureService(store).serve(registry, requests, { now: Date.now(), waitUntil });
}
