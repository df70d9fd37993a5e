// Discovery API: search and describe features, feature services, entity types and registry versions.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ComputationType, EntityType, EntityTypeName, FeatureDefinition } from "../core/definitions";
import { FeatureStoreError, snippet } from "../core/errors";
import { FeatureServiceDefinition } from "../core/feature-services";
import { upstreamFeatures } from "../core/registry";
import { BEARER, component, errors, json, openapiRoute } from "../http/openapi-routes";
import { requireScope, type ServingHonoEnv } from "./context";

const FeatureQuery = z
  .object({
    q: z.string().max(200).optional().meta({ description: "Substring of the name or description (case-insensitive)" }),
    tag: z.string().max(100).optional(),
    owner: z.string().max(200).optional(),
    entity_type: EntityTypeName.optional(),
    computation_type: ComputationType.optional(),
    group: z.string().max(200).optional().meta({ description: "Feature group (the file in features/)" }),
  })
  .strict();

const VersionsQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();

const FeatureDefinitionSchema = component(FeatureDefinition, "FeatureDefinition");
const FeatureServiceSchema = component(FeatureServiceDefinition, "FeatureService");

const RegistryVersionSummary = z.object({
  version_number: z.number().int(),
  version: z.string(),
  author: z.string(),
  feature_count: z.number().int(),
  applied_at: z.string(),
  diff: z.unknown(),
});

const serve = [requireScope("serve")];
const registryErrors = [401, 403, 503] as const;

export const listFeaturesRoute = createRoute({
  method: "get",
  path: "/features",
  summary: "Search features; every filter given must match",
  security: BEARER,
  middleware: serve,
  request: { query: FeatureQuery },
  responses: {
    200: json(
      z.object({ registry_version: z.string(), count: z.number().int(), features: z.array(FeatureDefinitionSchema) }),
      "The matching definitions",
    ),
    ...errors([400, ...registryErrors]),
  },
});

export const describeFeatureRoute = createRoute({
  method: "get",
  path: "/features/{name}",
  summary: "A definition with its registry version and lineage",
  security: BEARER,
  middleware: serve,
  request: {
    params: z.object({
      name: z.string().meta({ description: "Flat (skip_rate_7d) or qualified (user_behavior_features:skip_rate_7d)" }),
    }),
  },
  responses: {
    200: json(
      z.object({
        registry_version: z.string(),
        qualified_name: z.string(),
        definition: FeatureDefinitionSchema,
        lineage: z.object({
          upstream: z.object({ tables: z.array(z.string()), features: z.array(z.string()) }),
          downstream: z.array(z.string()),
        }),
        feature_services: z.array(z.string()).meta({ description: "Feature services that list it: the models that read it" }),
      }),
      "The definition",
    ),
    ...errors([404, ...registryErrors], { 404: "Unknown feature" }),
  },
});

export const listServicesRoute = createRoute({
  method: "get",
  path: "/feature-services",
  summary: "Feature services (features/services.yaml): the named feature lists models read",
  security: BEARER,
  middleware: serve,
  responses: {
    200: json(z.object({ registry_version: z.string(), feature_services: z.array(FeatureServiceSchema) }), "Every service"),
    ...errors(registryErrors),
  },
});

export const describeServiceRoute = createRoute({
  method: "get",
  path: "/feature-services/{name}",
  summary: "A feature service with the definitions of its features, in its order",
  security: BEARER,
  middleware: serve,
  request: { params: z.object({ name: z.string().max(128) }) },
  responses: {
    200: json(
      z.object({ registry_version: z.string(), feature_service: FeatureServiceSchema, features: z.array(FeatureDefinitionSchema) }),
      "The service",
    ),
    ...errors([400, 404, ...registryErrors], { 400: "A name longer than 128 characters", 404: "Unknown feature service" }),
  },
});

export const entitiesRoute = createRoute({
  method: "get",
  path: "/entities",
  summary: "Entity types with their join keys and feature counts",
  security: BEARER,
  middleware: serve,
  responses: {
    200: json(
      z.object({ registry_version: z.string(), entities: z.array(EntityType.extend({ feature_count: z.number().int() })) }),
      "Entity types",
    ),
    ...errors(registryErrors),
  },
});

export const versionsRoute = createRoute({
  method: "get",
  path: "/versions",
  summary: "Applied registry versions, newest first, with their diffs",
  security: BEARER,
  middleware: serve,
  request: { query: VersionsQuery },
  responses: {
    200: json(z.object({ current: z.string().nullable(), versions: z.array(RegistryVersionSummary) }), "Versions"),
    ...errors([400, ...registryErrors], { 503: "Registry history lives in Postgres, which is not configured or not answering" }),
  },
});

export function registryRoutes(): OpenAPIHono<ServingHonoEnv> {
  const r = new OpenAPIHono<ServingHonoEnv>();

  openapiRoute(r, listFeaturesRoute, async (c) => {
    const { q, tag, owner, entity_type, computation_type, group } = c.req.valid("query");
    const registry = await c.get("deps").registry();
    const needle = q?.toLowerCase();
    const features = registry.features.filter(
      (f) =>
        (!needle || f.name.toLowerCase().includes(needle) || f.description.toLowerCase().includes(needle)) &&
        (!tag || f.tags.includes(tag)) &&
        (!owner || f.owner === owner) &&
        (!entity_type || f.entity_type === entity_type) &&
        (!computation_type || f.computation_type === computation_type) &&
        (!group || f.group === group),
    );
    return c.json({ registry_version: registry.version, count: features.length, features }, 200);
  });

  openapiRoute(r, describeFeatureRoute, async (c) => {
    const registry = await c.get("deps").registry();
    const { name } = c.req.valid("param");
    const def = registry.resolve(name);
    if (!def) throw new FeatureStoreError("not_found", `Unknown feature: ${snippet(name)}`, { registry_version: registry.version });
    return c.json(
      {
        registry_version: registry.version,
        qualified_name: `${def.group}:${def.name}`,
        definition: def,
        lineage: {
          upstream: { tables: def.depends_on.tables, features: upstreamFeatures(def) },
          downstream: [...registry.dependents(def.name)],
        },
        feature_services: registry.servicesOf(def).map((s) => s.name),
      },
      200,
    );
  });

  openapiRoute(r, listServicesRoute, async (c) => {
    const registry = await c.get("deps").registry();
    return c.json({ registry_version: registry.version, feature_services: registry.snapshot.feature_services }, 200);
  });

  openapiRoute(r, describeServiceRoute, async (c) => {
    const registry = await c.get("deps").registry();
    const { name } = c.req.valid("param");
    const service = registry.featureService(name);
    if (!service)
      throw new FeatureStoreError("not_found", `Unknown feature service: ${snippet(name)}`, {
        known: registry.snapshot.feature_services.map((s) => s.name),
      });
    const features = service.features.map((ref) => registry.resolve(ref)).filter((d) => d !== undefined);
    return c.json({ registry_version: registry.version, feature_service: service, features }, 200);
  });

  openapiRoute(r, entitiesRoute, async (c) => {
    const registry = await c.get("deps").registry();
    const entities = registry.snapshot.entities.map((e) => ({ ...e, feature_count: registry.forEntity(e.name).length }));
    return c.json({ registry_version: registry.version, entities }, 200);
  });

  openapiRoute(r, versionsRoute, async (c) => {
    const { limit } = c.req.valid("query");
    const deps = c.get("deps");
    if (!deps.tiers.postgres) throw new FeatureStoreError("unavailable", "Registry history lives in Postgres, which is not configured");
    const versions = await deps.tiers.postgres.registryVersions(limit);
    return c.json({ current: deps.registryVersion(), versions }, 200);
  });

  return r;
}
