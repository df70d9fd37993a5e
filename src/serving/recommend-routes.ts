// POST /recommendations/features (admin scope): candidate features ranked by predictive power for a labelled spine.
//
// The ranking is computed on the spine's point-in-time training set (src/training/recommend.ts),
// built in Postgres by the same code as POST /datasets/training.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { errorMessage, FeatureStoreError } from "../core/errors";
import { withPostgresClient } from "../db/postgres";
import { BEARER, component, errors, json, jsonBody, openapiRoute } from "../http/openapi-routes";
import {
  DEFAULT_LABEL_COLUMN,
  MAX_RECOMMEND_SPINE_ROWS,
  parseEventTimestamp,
  recommendFeatures,
  spineFromObjects,
  sqlRunner,
} from "../training";
import { requireScope, type ServingHonoEnv } from "./context";

/** 10,000 spine rows of a few columns are about 1 MB; room for wide rows. */
export const MAX_RECOMMEND_BODY_BYTES = 8 * 1024 * 1024;
const CLI_HINT = "sample the spine (npm run recommend scores a CSV of up to the same size)";

const SpineRowSchema = z
  .object({
    event_timestamp: z
      .union([z.string(), z.number()])
      .refine((v) => parseEventTimestamp(v) !== null, { message: "must be ISO 8601 or epoch milliseconds" }),
  })
  .catchall(z.unknown())
  .meta({ description: "entity_id (and/or join-key columns such as user_id), event_timestamp, the label column, any others" });

export const RecommendRequestBody = z
  .object({
    spine: z.array(SpineRowSchema).min(1).max(MAX_RECOMMEND_SPINE_ROWS),
    label: z.string().min(1).max(128).default(DEFAULT_LABEL_COLUMN).meta({ description: "The spine column to predict (default label)" }),
    candidates: z
      .array(z.string().min(1).max(300))
      .min(1)
      .max(200)
      .optional()
      .meta({ description: "Feature groups (or feature references); default every feature of the spine's entity types" }),
  })
  .strict();

const FeatureScoreSchema = component(
  z.object({
    feature: z.string().meta({ description: "Qualified name group:name" }),
    mutual_information: z.number().meta({ description: "Bits, plug-in estimate (see estimators)" }),
    auc: z.number().optional().meta({ description: "max(AUC, 1 - AUC); binary labels and numerical features" }),
    auc_direction: z.enum(["higher", "lower"]).optional(),
    coverage: z.number().meta({ description: "Share of spine rows with an observed value" }),
    leakage: z.boolean(),
    warnings: z.array(z.string()),
  }),
  "FeatureScore",
);

export const RecommendResponse = z.object({
  registry_version: z.string(),
  label: z.string(),
  rows: z.number().int(),
  binary: z.boolean(),
  positive_label: z.unknown().optional(),
  label_entropy: z.number(),
  estimators: z.record(z.string(), z.string()),
  ranking: z.array(FeatureScoreSchema),
  skipped: z.array(z.object({ feature: z.string(), reason: z.string() })),
});

export const recommendRoute = createRoute({
  method: "post",
  path: "/features",
  summary: `Rank candidate features by predictive power for a labelled spine (admin scope); up to ${MAX_RECOMMEND_SPINE_ROWS} rows`,
  description:
    "Mutual information (and univariate AUC for binary labels), coverage and leakage warnings, computed on the spine's point-in-time training set.",
  security: BEARER,
  middleware: [requireScope("admin")],
  request: {
    body: jsonBody(component(RecommendRequestBody, "RecommendRequest"), {
      subject: "recommendation request",
      maxBytes: MAX_RECOMMEND_BODY_BYTES,
      hint: CLI_HINT,
      precheck: refuseLongSpine,
    }),
  },
  responses: {
    200: json(RecommendResponse, "The ranking, best first"),
    ...errors([400, 401, 403, 404, 413, 503], {
      400: "A bad spine, an unknown label column or unknown candidates (the field is named)",
      413: `Body over ${MAX_RECOMMEND_BODY_BYTES} bytes or a spine over ${MAX_RECOMMEND_SPINE_ROWS} rows`,
      503: "Postgres (where training sets are built) is not configured or failed",
    }),
  },
});

/** Counted before validation: a spine far over the limit is refused without checking every row. */
function refuseLongSpine(raw: unknown): void {
  const spine = raw && typeof raw === "object" && "spine" in raw ? raw.spine : undefined;
  if (Array.isArray(spine) && spine.length > MAX_RECOMMEND_SPINE_ROWS)
    throw new FeatureStoreError(
      "payload_too_large",
      `A spine of ${spine.length} rows exceeds the limit of ${MAX_RECOMMEND_SPINE_ROWS}; ${CLI_HINT}`,
      {
        limit: MAX_RECOMMEND_SPINE_ROWS,
        field: "spine",
      },
    );
}

export function recommendRoutes(): OpenAPIHono<ServingHonoEnv> {
  const r = new OpenAPIHono<ServingHonoEnv>();
  openapiRoute(r, recommendRoute, async (c) => {
    const body = c.req.valid("json");
    const deps = c.get("deps");
    const registry = await deps.registry();
    const cfg = deps.postgresConfig;
    if (!cfg)
      throw new FeatureStoreError("unavailable", "Recommendations are computed in Postgres, which is not configured for this Worker");
    const spine = spineFromObjects(body.spine);
    const result = await withPostgresClient(cfg, (client) =>
      recommendFeatures(sqlRunner(client), registry, {
        spine,
        label: body.label,
        ...(body.candidates ? { candidates: body.candidates } : {}),
      }),
    ).catch((err: unknown) => {
      if (err instanceof FeatureStoreError) throw err;
      throw new FeatureStoreError("unavailable", `Postgres could not build the training set: ${errorMessage(err)}`, undefined, {
        cause: err,
      });
    });
    return c.json({ registry_version: registry.version, ...result }, 200);
  });
  return r;
}
