// The serving Worker's Hono app: read path, registry/discovery API, health and metrics.
import { Hono } from "hono";
import { notFound, onError } from "../http/error-handler";
import { checkTiers } from "../stores/tier-health";
import type { Tiers } from "../stores/tiers";

export interface ServingContext {
  tiers: Tiers;
  memoryStats: () => string;
  registryVersion: () => string | null;
}

export type ServingApp = Hono<{ Variables: { deps: ServingContext } }>;

export function createServingApp(getDeps: (c: { env: unknown }) => ServingContext): ServingApp {
  const app: ServingApp = new Hono();
  app.onError(onError);
  app.notFound(notFound);
  app.use(async (c, next) => {
    c.set("deps", getDeps(c));
    await next();
  });

  app.get("/health", async (c) => {
    const deps = c.get("deps");
    const report = await checkTiers("feature-serving", deps.tiers, {
      memory: deps.memoryStats,
      registryVersion: deps.registryVersion(),
    });
    return c.json(report, report.status === "down" ? 503 : 200);
  });

  return app;
}
