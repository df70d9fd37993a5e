// The serving Worker's Hono app: read path, Feast-compatible API, registry discovery, training sets, health, metrics, OpenAPI.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { routePath } from "hono/route";
import { authorize, requestKeyHash } from "../core/auth";
import { healthRoute, openApiJsonRoute } from "../http/common-routes";
import { notFound, onError } from "../http/error-handler";
import { answerOtherMethodsWith405, BEARER, errors, openApiDocument, openapiRoute } from "../http/openapi-routes";
import { rateLimitRequests } from "../http/rate-limit";
import { waitUntilOf } from "../monitoring/hub-client";
import { coloOf } from "../monitoring/metrics-reporter";
import { checkTiers } from "../stores/tier-health";
import { executionCtxOf } from "../ui/api";
import { consoleApp, isConsolePath } from "../ui/routes";
import { type ServingContext, type ServingEnv, type ServingHonoEnv, servingFactory } from "./context";
import { feastMaterializeRoutes } from "./feast-materialize-routes";
import { feastWriteRoutes } from "./feast-write-routes";
import { featureRoutes } from "./feature-routes";
import { renderMetrics } from "./metrics-route";
import { qualityRoutes } from "./quality-routes";
import { recommendRoutes } from "./recommend-routes";
import { registryRoutes } from "./registry-routes";
import { relatedRoutes } from "./related-routes";
import { trainingRoutes } from "./training-routes";

export type ServingApp = OpenAPIHono<ServingHonoEnv>;

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics of every isolate of both Workers, labelled worker and colo (text exposition format 0.0.4)",
  description:
    'Totals from the MetricsHub Durable Object, which every isolate reports its deltas to (README "Monitoring"). Without a METRICS_HUB binding, this isolate\'s own series.',
  security: BEARER,
  middleware: [
    servingFactory.createMiddleware(async (c, next) => {
      // METRICS_AUTH=public (the dev vars of wrangler.toml) scrapes without a key; staging and production take one.
      if (!c.get("deps").metricsPublic) authorize(await requestKeyHash(c.req.raw), c.get("deps").apiKeys, "metrics");
      await next();
    }),
  ] as const,
  responses: {
    200: { description: "Prometheus text", content: { "text/plain": { schema: z.string() } } },
    ...errors([401, 403], {
      401: "METRICS_AUTH=key (the default outside dev) and no key, or an unknown one",
      403: "A key without the metrics (or admin) scope",
    }),
  },
});

/** The app over the context `contextFor` gives for a request's env (the Worker's, built once per isolate). */
export function createServingApp(contextFor: (env: ServingEnv) => ServingContext): ServingApp {
  const app = new OpenAPIHono<ServingHonoEnv>();
  app.onError(onError);
  app.notFound(notFound);
  app.use(
    servingFactory.createMiddleware(async (c, next) => {
      const deps = contextFor(c.env);
      c.set("deps", deps);
      const started = performance.now();
      await next();
      deps.metrics.observe(routePath(c), c.res.status, (performance.now() - started) / 1000);
      deps.metricsReporter.maybeFlush(deps.metricsHub, coloOf(c.req.raw), waitUntilOf(c));
    }),
  );
  app.use(rateLimitRequests<ServingHonoEnv>((c) => ({ limiter: c.get("deps").rateLimiter, keys: c.get("deps").apiKeys })));
  // The web console (README "Console"): HTML pages, not API operations, so kept out of the OpenAPI routes;
  // its pages call the routes below in process with the session's key.
  const ui = consoleApp(contextFor, (request, env, ctx) => Promise.resolve(app.fetch(request, env, ctx)));
  app.use(async (c, next) => (isConsolePath(c.req.path) ? ui.fetch(c.req.raw, c.env, executionCtxOf(c)) : next()));

  openapiRoute(app, healthRoute, async (c) => {
    const deps = c.get("deps");
    const report = await checkTiers("feature-serving", deps.tiers, {
      memory: () => {
        const s = deps.store.memory.stats();
        return `${s.entries} values of ${s.entities} entities, ${s.bytes} bytes, ${s.hits} hits / ${s.misses} misses`;
      },
      registryVersion: deps.registryVersion(),
    });
    return report.status === "down" ? c.json(report, 503) : c.json(report, 200);
  });

  openapiRoute(app, metricsRoute, async (c) => {
    const deps = c.get("deps");
    return c.text(await renderMetrics(deps, coloOf(c.req.raw)), 200, { "content-type": "text/plain; version=0.0.4" });
  });

  app.route("/", featureRoutes());
  app.route("/", feastWriteRoutes());
  app.route("/", feastMaterializeRoutes());
  app.route("/registry", registryRoutes());
  app.route("/registry", relatedRoutes());
  app.route("/datasets", trainingRoutes());
  app.route("/quality", qualityRoutes());
  app.route("/recommendations", recommendRoutes());

  const document = openApiDocument(
    app,
    "EchoTune Feature Store — serving API",
    "Feature vectors from the edge tiers (memory, KV, Durable Objects, Redis, Postgres), Feast's read API, feature discovery and training sets.",
  );
  openapiRoute(app, openApiJsonRoute, (c) => c.json(document(), 200));
  answerOtherMethodsWith405(app);
  return app;
}
