// The ingest Worker's Hono app: push endpoint and health.
import { Hono } from "hono";
import { notFound, onError } from "../http/error-handler";
import { checkTiers } from "../stores/tier-health";
import type { Tiers } from "../stores/tiers";

export interface IngestContext {
  tiers: Tiers;
  registryVersion: () => string | null;
}

export type IngestApp = Hono<{ Variables: { deps: IngestContext } }>;

export function createIngestApp(getDeps: (c: { env: unknown }) => IngestContext): IngestApp {
  const app: IngestApp = new Hono();
  app.onError(onError);
  app.notFound(notFound);
  app.use(async (c, next) => {
    c.set("deps", getDeps(c));
    await next();
  });

  app.get("/health", async (c) => {
    const deps = c.get("deps");
    const report = await checkTiers("feature-ingest", deps.tiers, {
      memory: () => "not used by ingest",
      registryVersion: deps.registryVersion(),
    });
    return c.json(report, report.status === "down" ? 503 : 200);
  });

  return app;
}
