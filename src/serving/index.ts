// Entry module of the feature-serving Worker: reads env, builds the tiers and services once per isolate.

import { perIsolate } from "../config/per-isolate";
import type { WorkerSecrets } from "../config/secrets";
import { choiceVar, ON_OFF_ALIASES, positiveIntVar } from "../config/vars";
import { parseApiKeys } from "../core/auth";
import { L0_ADMISSIONS, MEMORY_MAX_BYTES, MEMORY_MAX_ENTRIES, MemoryCache } from "../stores/memory-cache";
import { registryStoreFor } from "../stores/registry-store";
import { TieredFeatureStore } from "../stores/tiered-feature-store";
import { buildTiers, postgresConfigFrom, readOrder, type TierEnv } from "../stores/tiers";
import { KV_WRITE_BACK_MODES } from "../stores/write-back-policy";
import { createServingApp, type ServingContext } from "./app";
import { FeatureService } from "./feature-service";
import { ServingMetrics } from "./metrics";

export { EntityState } from "../durable/entity-state";

export type ServingEnv = ServingBindings & WorkerSecrets;

export const servingContext = perIsolate((env: ServingEnv): ServingContext => {
  const tierEnv = env as TierEnv;
  const tiers = buildTiers(tierEnv);
  const vars = env as unknown as Record<string, unknown>;
  const memory = new MemoryCache(
    positiveIntVar(vars, "L0_MAX_VALUES", MEMORY_MAX_ENTRIES),
    positiveIntVar(vars, "L0_MAX_MB", MEMORY_MAX_BYTES / (1024 * 1024)) * 1024 * 1024,
    Date.now,
    choiceVar(vars, "L0_ADMISSION", L0_ADMISSIONS, "always"),
  );
  const store = new TieredFeatureStore(readOrder(tiers), memory, {
    kvWriteBack: choiceVar(vars, "KV_WRITE_BACK", KV_WRITE_BACK_MODES, "repeat", ON_OFF_ALIASES),
  });
  const postgresConfig = postgresConfigFrom(tierEnv);
  const registryStore = registryStoreFor(tiers.registryKv, postgresConfig);
  const deps: ServingContext = {
    tiers,
    postgresConfig,
    store,
    service: new FeatureService(store),
    metrics: new ServingMetrics(),
    apiKeys: parseApiKeys(env.API_KEYS),
    registry: () => registryStore.get(),
    registryVersion: () => registryStore.peekVersion(),
  };
  return deps;
});

const app = createServingApp((c) => servingContext(c.env as ServingEnv));

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<ServingEnv>;
