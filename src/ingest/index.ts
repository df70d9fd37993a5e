// Entry module of the feature-ingest Worker: push endpoint, Queue consumers and cron materialization.
import { createIngestApp, type IngestContext } from "./app";
import { buildTiers, type TierEnv } from "../stores/tiers";
import type { WorkerSecrets } from "../config/secrets";

export type IngestEnv = IngestBindings & WorkerSecrets;

let cached: { env: unknown; deps: IngestContext } | undefined;

function depsFor(env: IngestEnv): IngestContext {
  if (cached?.env === env) return cached.deps;
  const deps: IngestContext = {
    tiers: buildTiers(env as unknown as TierEnv),
    registryVersion: () => null,
  };
  cached = { env, deps };
  return deps;
}

const app = createIngestApp((c) => depsFor(c.env as IngestEnv));

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<IngestEnv>;
