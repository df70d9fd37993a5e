// The ingest Worker's Hono app: push endpoint, admin materialization API, health and OpenAPI.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { routePath } from "hono/route";
import { FeatureUpdate, PushBody, PushResult, parsePushBody } from "../core/ingest-message";
import { healthRoute, openApiJsonRoute } from "../http/common-routes";
import { notFound, onError } from "../http/error-handler";
import {
  answerOtherMethodsWith405,
  BEARER,
  component,
  errors,
  json,
  jsonBody,
  openApiDocument,
  openapiRoute,
} from "../http/openapi-routes";
import { rateLimitRequests } from "../http/rate-limit";
import { waitUntilOf } from "../monitoring/hub-client";
import { coloOf } from "../monitoring/metrics-reporter";
import { checkTiers } from "../stores/tier-health";
import { adminRoutes } from "./admin";
import { BackfillPage, BackfillRequest, backfillPage, MAX_BACKFILL_PAGE } from "./backfill";
import { type IngestContext, type IngestEnv, type IngestHonoEnv, ingestFactory, requireScope } from "./context";
import { deadLetterRoutes } from "./dead-letter-routes";
import { checkEventCount, EventsBody, EventsResult, ingestEvents, MAX_EVENTS_BODY_BYTES, MAX_EVENTS_PER_REQUEST } from "./events";
import { checkUpdateCount, HTTP_SOURCES, MAX_PUSH_BODY_BYTES, queueUpdates } from "./push";

export type IngestApp = OpenAPIHono<IngestHonoEnv>;

const SPLIT_HINT = "split it into several pushes";

component(FeatureUpdate, "FeatureUpdate");

export const pushRoute = createRoute({
  method: "post",
  path: "/ingest/push",
  summary: "Queue feature updates (one or an array); the consumer validates the values and writes every tier",
  security: BEARER,
  middleware: [requireScope("ingest")],
  request: {
    query: z.object({
      source: z
        .enum(HTTP_SOURCES, { error: `must be one of ${HTTP_SOURCES.join(", ")}` })
        .default("push")
        .meta({ description: "replay for re-sent dead letters" }),
    }),
    body: jsonBody(component(PushBody, "PushBody"), {
      subject: "push body",
      maxBytes: MAX_PUSH_BODY_BYTES,
      hint: SPLIT_HINT,
      precheck: checkUpdateCount,
      parse: parsePushBody,
    }),
  },
  responses: {
    202: json(component(PushResult, "PushResult"), "Queued: one message id per update, in order"),
    ...errors([400, 401, 403, 413, 503], {
      400: "Bad envelope (`bad_request`) or unknown, foreign or on_demand feature names, future event times (`validation_failed`); `details.issues` names each",
      413: `Body over ${MAX_PUSH_BODY_BYTES} bytes, too many updates, or an update too big for one queue message`,
      503: "No INGEST_QUEUE binding, or the queue refused some batches (`details.queued_message_ids`)",
    }),
  },
});

export const eventsRoute = createRoute({
  method: "post",
  path: "/ingest/events",
  summary:
    "Raw events (one or an array): validated against their event type, appended to Postgres, queued for the event consumer and folded into each entity's aggregation tiles",
  security: BEARER,
  middleware: [requireScope("ingest")],
  request: {
    body: jsonBody(component(EventsBody, "EventsBody"), {
      subject: "events body",
      maxBytes: MAX_EVENTS_BODY_BYTES,
      hint: `at most ${MAX_EVENTS_PER_REQUEST} events per request`,
      precheck: checkEventCount,
    }),
  },
  responses: {
    202: json(
      component(EventsResult, "EventsResult"),
      "Durable in Postgres and queued, folded online (pending_entities: left to the consumer); a seen event_id changed nothing",
    ),
    ...errors([400, 401, 403, 413, 503], {
      400: "Bad envelope (`bad_request`), or events that do not fit their event type (`validation_failed`); `details.issues` names each",
      413: `Body over ${MAX_EVENTS_BODY_BYTES} bytes or more than ${MAX_EVENTS_PER_REQUEST} events`,
      503: "No Postgres or Durable Object binding, or a write failed: retrying the whole request is safe",
    }),
  },
});

export const backfillRoute = createRoute({
  method: "post",
  path: "/admin/backfill",
  summary: "Replay stored raw events of one page of entities into an aggregation feature's tiles (idempotent, resumable by after)",
  security: BEARER,
  middleware: [requireScope("admin")],
  request: {
    body: jsonBody(component(BackfillRequest, "BackfillRequest"), { subject: "backfill request", maxBytes: 16 * 1024 }),
  },
  responses: {
    200: json(component(BackfillPage, "BackfillPage"), `One page (at most ${MAX_BACKFILL_PAGE} entities); repeat with after = next_after`),
    ...errors([400, 401, 403, 404, 413, 503], {
      400: "Bad input, or the feature is not a windowed aggregation feature",
      404: "Unknown feature",
      503: "No DATABASE_URL or ENTITY_STATE binding, or Postgres or a Durable Object failed (repeating the page is safe)",
    }),
  },
});

/** The app over the context `contextFor` gives for a request's env (the Worker's, built once per isolate). */
export function createIngestApp(contextFor: (env: IngestEnv) => IngestContext): IngestApp {
  const app = new OpenAPIHono<IngestHonoEnv>();
  app.onError(onError);
  app.notFound(notFound);
  app.use(
    ingestFactory.createMiddleware(async (c, next) => {
      const deps = contextFor(c.env);
      c.set("deps", deps);
      await next();
      deps.metrics.request(routePath(c), c.res.status);
      deps.metricsReporter.maybeFlush(deps.metricsHub, coloOf(c.req.raw), waitUntilOf(c));
    }),
  );
  app.use(rateLimitRequests<IngestHonoEnv>((c) => ({ limiter: c.get("deps").rateLimiter, keys: c.get("deps").apiKeys() })));

  openapiRoute(app, healthRoute, async (c) => {
    const deps = c.get("deps");
    // Loads the registry (cached for a few seconds) so a fresh isolate reports its version too.
    const registryVersion = await deps.registry().then(
      (r) => r.version,
      () => deps.registryVersion(),
    );
    const report = await checkTiers("feature-ingest", deps.tiers, { memory: () => "not used by ingest", registryVersion });
    return report.status === "down" ? c.json(report, 503) : c.json(report, 200);
  });

  openapiRoute(app, pushRoute, async (c) => {
    const deps = c.get("deps");
    const { source } = c.req.valid("query");
    const result = await queueUpdates(c.req.valid("json"), source, {
      queue: deps.ingestQueue,
      registry: deps.registry,
      now: deps.now,
      log: deps.log,
    });
    return c.json(result, 202);
  });

  openapiRoute(app, eventsRoute, async (c) => {
    const deps = c.get("deps");
    const result = await ingestEvents(c.req.valid("json"), deps);
    deps.metrics.lateness(result.refused);
    return c.json(result, 202);
  });

  openapiRoute(app, backfillRoute, async (c) => {
    const deps = c.get("deps");
    const page = await backfillPage(c.req.valid("json"), deps);
    return c.json(page, 200);
  });

  app.route("/", adminRoutes());
  app.route("/", deadLetterRoutes());

  const document = openApiDocument(
    app,
    "EchoTune Feature Store — ingest API",
    "Feature updates onto the ingest queue (validated and written to every tier by its consumer) and materialization of batch features.",
  );
  openapiRoute(app, openApiJsonRoute, (c) => c.json(document(), 200));
  answerOtherMethodsWith405(app);
  return app;
}
