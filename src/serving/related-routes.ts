// GET /registry/features/{name}/related (serve scope): features related by lineage, event source, feature-service co-use and tags.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { FeatureStoreError, snippet } from "../core/errors";
import { RELATED_WEIGHTS, relatedFeatures } from "../core/related-features";
import { BEARER, component, errors, json, openapiRoute } from "../http/openapi-routes";
import { requireScope, type ServingHonoEnv } from "./context";

export const MAX_RELATED = 100;
export const DEFAULT_RELATED = 20;

const RelatedQuery = z.object({ limit: z.coerce.number().int().min(1).max(MAX_RELATED).default(DEFAULT_RELATED) }).strict();

const RelatedFeatureSchema = component(
  z.object({
    name: z.string(),
    group: z.string(),
    score: z.number().meta({ description: "Sum of the weights of its reasons" }),
    reasons: z.array(z.string()),
  }),
  "RelatedFeature",
);

export const relatedFeaturesRoute = createRoute({
  method: "get",
  path: "/features/{name}/related",
  summary: "Related features, scored by shared lineage, event sources, feature-service co-use and tags (highest first)",
  description: `Weights: ${Object.entries(RELATED_WEIGHTS)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}.`,
  security: BEARER,
  middleware: [requireScope("serve")],
  request: {
    params: z.object({
      name: z.string().meta({ description: "Flat (skip_rate_7d) or qualified (user_behavior_features:skip_rate_7d)" }),
    }),
    query: RelatedQuery,
  },
  responses: {
    200: json(
      z.object({
        registry_version: z.string(),
        feature: z.string(),
        count: z.number().int().meta({ description: "Related features in all, before the limit" }),
        related: z.array(RelatedFeatureSchema),
      }),
      "Related features",
    ),
    ...errors([400, 401, 403, 404, 503], { 404: "Unknown feature" }),
  },
});

export function relatedRoutes(): OpenAPIHono<ServingHonoEnv> {
  const r = new OpenAPIHono<ServingHonoEnv>();
  openapiRoute(r, relatedFeaturesRoute, async (c) => {
    const registry = await c.get("deps").registry();
    const { name } = c.req.valid("param");
    const { limit } = c.req.valid("query");
    const def = registry.resolve(name);
    if (!def) throw new FeatureStoreError("not_found", `Unknown feature: ${snippet(name)}`, { registry_version: registry.version });
    const related = relatedFeatures(registry, def);
    return c.json({ registry_version: registry.version, feature: def.name, count: related.length, related: related.slice(0, limit) }, 200);
  });
  return r;
}
