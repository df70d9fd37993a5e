// The serving Worker's Hono app: read path, Feast-compatible API, registry discovery, health and metrics.
import { type Context, Hono } from "hono";
import { type ApiKeyEntry, authorize, type Scope } from "../core/auth";
import { FeatureStoreError, invalidInput } from "../core/errors";
import {
  BatchRequest,
  FeastOnlineRequest,
  FeatureRequest,
  MAX_BATCH_ENTITIES,
  MAX_BODY_BYTES,
  MAX_FEATURES_PER_REQUEST,
} from "../core/feature-request";
import type { CompiledRegistry } from "../core/registry";
import type { PostgresConfig } from "../db/postgres";
import { notFound, onError, readJson } from "../http/error-handler";
import { checkTiers } from "../stores/tier-health";
import type { TieredFeatureStore } from "../stores/tiered-feature-store";
import type { Tiers } from "../stores/tiers";
import { feastResponse, feastToRequests } from "./feast";
import type { FeatureService } from "./feature-service";
import type { ServingMetrics } from "./metrics";
import { openApiDocument } from "./openapi";
import { registryRoutes } from "./registry-routes";
import { trainingRoutes } from "./training-routes";

export interface ServingContext {
  tiers: Tiers;
  /** Connection settings for work that runs in Postgres itself (training sets); undefined when not configured. */
  postgresConfig: PostgresConfig | undefined;
  store: TieredFeatureStore;
  service: FeatureService;
  metrics: ServingMetrics;
  apiKeys: Map<string, ApiKeyEntry>;
  registry: () => Promise<CompiledRegistry>;
  registryVersion: () => string | null;
}

export type ServingEnvVars = { Variables: { deps: ServingContext } };
export type ServingApp = Hono<ServingEnvVars>;

export function createServingApp(getDeps: (c: { env: unknown }) => ServingContext): ServingApp {
  const app: ServingApp = new Hono();
  app.onError(onError);
  app.notFound(notFound);
  app.use(async (c, next) => {
    const deps = getDeps(c);
    c.set("deps", deps);
    const started = performance.now();
    await next();
    deps.metrics.observe(c.req.routePath, c.res.status, (performance.now() - started) / 1000);
  });

  app.get("/health", async (c) => {
    const deps = c.get("deps");
    const report = await checkTiers("feature-serving", deps.tiers, {
      memory: () => {
        const s = deps.store.memory.stats();
        return `${s.entries} values of ${s.entities} entities, ${s.bytes} bytes, ${s.hits} hits / ${s.misses} misses`;
      },
      registryVersion: deps.registryVersion(),
    });
    return c.json(report, report.status === "down" ? 503 : 200);
  });

  app.get("/metrics", async (c) => {
    const deps = c.get("deps");
    return c.text(deps.metrics.render(deps.store, deps.registryVersion()), 200, { "content-type": "text/plain; version=0.0.4" });
  });

  app.get("/openapi.json", (c) => c.json(openApiDocument()));

  app.post("/features/get", async (c) => {
    const deps = await requireScope(c, "serve");
    const parsed = FeatureRequest.safeParse(await readBody(c));
    if (!parsed.success) throw invalidInput("feature request", parsed.error);
    checkFeatureCount(parsed.data.feature_names.length);
    const registry = await deps.registry();
    const [result] = await deps.service.serve(registry, [parsed.data], serveOptions(c, deps));
    if (result && "error" in result) throw new FeatureStoreError("value_required", result.error.message, result.error.details);
    return c.json(result);
  });

  app.post("/features/batch", async (c) => {
    const deps = await requireScope(c, "serve");
    const parsed = BatchRequest.safeParse(await readBody(c));
    if (!parsed.success) throw invalidInput("batch request", parsed.error);
    const requests = Array.isArray(parsed.data) ? parsed.data : parsed.data.requests;
    if (requests.length > MAX_BATCH_ENTITIES)
      throw new FeatureStoreError(
        "payload_too_large",
        `Batch of ${requests.length} requests exceeds the limit of ${MAX_BATCH_ENTITIES}; split it`,
        {
          limit: MAX_BATCH_ENTITIES,
        },
      );
    for (const r of requests) checkFeatureCount(r.feature_names.length);
    const registry = await deps.registry();
    return c.json(await deps.service.serve(registry, requests, serveOptions(c, deps)));
  });

  app.post("/get-online-features", async (c) => {
    const deps = await requireScope(c, "serve");
    const parsed = FeastOnlineRequest.safeParse(await readBody(c));
    if (!parsed.success) throw invalidInput("get-online-features request", parsed.error);
    const registry = await deps.registry();
    const { requests, entityColumn, entityValues } = feastToRequests(registry, parsed.data);
    if (requests.length > MAX_BATCH_ENTITIES)
      throw new FeatureStoreError(
        "payload_too_large",
        `${requests.length} entities exceed the limit of ${MAX_BATCH_ENTITIES}; split the request`,
      );
    const results = await deps.service.serve(registry, requests, serveOptions(c, deps));
    return c.json(feastResponse(registry, parsed.data, entityColumn, entityValues, results));
  });

  app.route("/registry", registryRoutes());
  app.route("/datasets", trainingRoutes());

  return app;
}

async function requireScope(c: Context<ServingEnvVars>, scope: Scope): Promise<ServingContext> {
  const deps = c.get("deps");
  await authorize(c.req.header("authorization"), deps.apiKeys, scope);
  return deps;
}

async function readBody(c: Context): Promise<unknown> {
  const length = Number(c.req.header("content-length") ?? 0);
  if (length > MAX_BODY_BYTES) throw new FeatureStoreError("payload_too_large", `Body of ${length} bytes exceeds ${MAX_BODY_BYTES} bytes`);
  return readJson(c);
}

function checkFeatureCount(n: number): void {
  if (n > MAX_FEATURES_PER_REQUEST)
    throw new FeatureStoreError("payload_too_large", `${n} features in one request exceed the limit of ${MAX_FEATURES_PER_REQUEST}`);
}

function serveOptions(c: Context, deps: ServingContext) {
  return {
    now: Date.now(),
    statuses: deps.metrics.featureStatuses,
    waitUntil: (p: Promise<unknown>) => {
      try {
        c.executionCtx.waitUntil(p);
      } catch {
        // No execution context (app.request in a unit test): let the write-back run unattended.
        void p;
      }
    },
  };
}
