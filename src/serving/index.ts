// Entry module of the feature-serving Worker: reads env, builds the tiers and services once per isolate.
import { parseApiKeys } from "../core/auth";
import { RegistrySnapshot } from "../core/registry";
import { latestRegistrySnapshot } from "../db/postgres";
import { DurableObjectFeatureStore } from "../stores/durable-object-store";
import { KvFeatureStore } from "../stores/kv-store";
import { RegistryStore } from "../stores/registry-store";
import { TieredFeatureStore } from "../stores/tiered-feature-store";
import { buildTiers, type TierEnv } from "../stores/tiers";
import type { WorkerSecrets } from "../config/secrets";
import { createServingApp, type ServingContext } from "./app";
import { FeatureService } from "./feature-service";
import { ServingMetrics } from "./metrics";

export { EntityState } from "../durable/entity-state";

export type ServingEnv = ServingBindings & WorkerSecrets;

let cached: { env: unknown; deps: ServingContext } | undefined;

export function servingContext(env: ServingEnv): ServingContext {
  if (cached?.env === env) return cached.deps;
  const tierEnv = env as TierEnv;
  const tiers = buildTiers(tierEnv);
  const store = new TieredFeatureStore({
    kv: tiers.featuresKv ? new KvFeatureStore(tiers.featuresKv) : undefined,
    durableObject: tiers.entityState ? new DurableObjectFeatureStore(tiers.entityState) : undefined,
    redis: tiers.redis,
    postgres: tiers.postgres,
  });
  const registryStore = new RegistryStore(
    tiers.registryKv,
    env.DATABASE_URL
      ? async () => {
          const parsed = RegistrySnapshot.safeParse(
            await latestRegistrySnapshot({ databaseUrl: env.DATABASE_URL!, wsProxy: env.NEON_WS_PROXY || undefined }),
          );
          return parsed.success ? parsed.data : undefined;
        }
      : undefined,
  );
  const deps: ServingContext = {
    tiers,
    postgresConfig: env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL, wsProxy: env.NEON_WS_PROXY || undefined } : undefined,
    store,
    service: new FeatureService(store),
    metrics: new ServingMetrics(),
    apiKeys: parseApiKeys(env.API_KEYS),
    registry: () => registryStore.get(),
    registryVersion: () => registryStore.peekVersion(),
  };
  cached = { env, deps };
  return deps;
}

const app = createServingApp((c) => servingContext(c.env as ServingEnv));

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<ServingEnv>;
