// GET /quality and GET /quality/features/:name: the quality time series the ingest cron keeps (README "Monitoring"), scope serve.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { FeatureStoreError, snippet } from "../core/errors";
import { QUALITY_TARGETS } from "../core/quality";
import { withPostgresClient } from "../db/postgres";
import { BEARER, component, errors, json, openapiRoute } from "../http/openapi-routes";
import { latestQuality, MAX_HISTORY_POINTS, qualityHistory } from "../monitoring/quality-read";
import { requireScope, type ServingContext, type ServingHonoEnv } from "./context";

/** A history without `from` covers this much time back. */
export const DEFAULT_HISTORY_MS = 7 * 86_400_000;

const QualityPointSchema = component(
  z.object({
    feature_name: z.string(),
    entity_type: z.string(),
    computed_at: z.string(),
    entities: z.number().int(),
    with_value: z.number().int(),
    staleness_seconds: z.number().nullable(),
    stale_share: z.number(),
    completeness: z.number(),
    updates: z.number(),
    rejects: z.number(),
    validation_error_rate: z.number(),
    drift: z.object({
      status: z.string().meta({ description: "ok, drift, insufficient_data, no_reference or not_monitored" }),
      psi: z.number().nullable(),
      test: z.string().nullable(),
      statistic: z.number().nullable(),
      p_value: z.number().nullable(),
      reasons: z.array(z.string()),
    }),
    score: z.number(),
    failing: z.array(z.string()).meta({ description: "Targets missed: stale, completeness, validation, drift, score" }),
  }),
  "QualityPoint",
);

const Targets = z.object({ completeness: z.number(), validation_error_rate: z.number(), score: z.number() });
const qualityErrors = [401, 403, 503] as const;
const UNAVAILABLE = "Quality lives in Postgres, which is not configured or not answering";

const QualityQuery = z
  .object({ failing: z.enum(["true", "false"]).optional().meta({ description: "true: only features missing a target" }) })
  .strict();

export const qualityRoute = createRoute({
  method: "get",
  path: "/",
  summary: "Every stored feature's latest quality (freshness, completeness, validation error rate, drift, score)",
  security: BEARER,
  middleware: [requireScope("serve")],
  request: { query: QualityQuery },
  responses: {
    200: json(
      z.object({
        computed_at: z.string().nullable(),
        targets: Targets,
        count: z.number().int(),
        failing: z.number().int(),
        features: z.array(QualityPointSchema),
      }),
      "The newest quality row of each feature",
    ),
    ...errors([400, ...qualityErrors], { 503: UNAVAILABLE }),
  },
});

const HistoryQuery = z
  .object({
    from: z.iso.datetime({ offset: true }).optional().meta({ description: "Start (ISO 8601); default 7 days before `to`" }),
    to: z.iso.datetime({ offset: true }).optional().meta({ description: "End (ISO 8601); default now" }),
    limit: z.coerce.number().int().min(1).max(MAX_HISTORY_POINTS).default(500),
  })
  .strict();

export const qualityFeatureRoute = createRoute({
  method: "get",
  path: "/features/{name}",
  summary: "One feature's quality history (for plots), oldest first",
  security: BEARER,
  middleware: [requireScope("serve")],
  request: {
    params: z.object({ name: z.string().meta({ description: "Flat or qualified feature name" }) }),
    query: HistoryQuery,
  },
  responses: {
    200: json(
      z.object({
        feature_name: z.string(),
        from: z.string(),
        to: z.string(),
        latest: QualityPointSchema.nullable(),
        history: z.array(QualityPointSchema),
      }),
      "The feature's quality rows in the range",
    ),
    ...errors([400, 404, ...qualityErrors], { 404: "Unknown feature", 503: UNAVAILABLE }),
  },
});

function postgresOf(deps: ServingContext) {
  if (!deps.postgresConfig) throw new FeatureStoreError("unavailable", UNAVAILABLE);
  return deps.postgresConfig;
}

export function qualityRoutes(): OpenAPIHono<ServingHonoEnv> {
  const r = new OpenAPIHono<ServingHonoEnv>();

  openapiRoute(r, qualityRoute, async (c) => {
    const deps = c.get("deps");
    const rows = await withPostgresClient(postgresOf(deps), latestQuality);
    const failing = rows.filter((q) => q.failing.length > 0);
    const shown = c.req.valid("query").failing === "true" ? failing : rows;
    const newest = rows.reduce<string | null>((a, q) => (a === null || q.computed_at > a ? q.computed_at : a), null);
    return c.json(
      {
        computed_at: newest,
        targets: {
          completeness: QUALITY_TARGETS.completeness,
          validation_error_rate: QUALITY_TARGETS.validationErrorRate,
          score: QUALITY_TARGETS.score,
        },
        count: shown.length,
        failing: failing.length,
        features: shown,
      },
      200,
    );
  });

  openapiRoute(r, qualityFeatureRoute, async (c) => {
    const deps = c.get("deps");
    const { name } = c.req.valid("param");
    const def = (await deps.registry()).resolve(name);
    if (!def) throw new FeatureStoreError("not_found", `Unknown feature: ${snippet(name)}`);
    const q = c.req.valid("query");
    const to = q.to ? Date.parse(q.to) : Date.now();
    const from = q.from ? Date.parse(q.from) : to - DEFAULT_HISTORY_MS;
    if (from > to) throw new FeatureStoreError("bad_request", "from is after to", { from: q.from, to: q.to });
    const history = await withPostgresClient(postgresOf(deps), (client) => qualityHistory(client, def.name, from, to, q.limit));
    return c.json(
      {
        feature_name: def.name,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        latest: history.at(-1) ?? null,
        history,
      },
      200,
    );
  });
  return r;
}
