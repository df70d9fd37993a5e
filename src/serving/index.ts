// Entry module of the feature-serving Worker: reads env, builds the tiers once per isolate.
import { createServingApp, type ServingContext } from "./app";
import { buildTiers, type TierEnv } from "../stores/tiers";
import type { WorkerSecrets } from "../config/secrets";

export { EntityState } from "../durable/entity-state";

export type ServingEnv = ServingBindings & WorkerSecrets;

let cached: { env: unknown; deps: ServingContext } | undefined;

function depsFor(env: ServingEnv): ServingContext {
  if (cached?.env === env) return cached.deps;
  const deps: ServingContext = {
    tiers: buildTiers(env as TierEnv),
    memoryStats: () => "0 entries",
    registryVersion: () => null,
  };
  cached = { env, deps };
  return deps;
}

const app = createServingApp((c) => depsFor(c.env as ServingEnv));

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<ServingEnv>;
