// Discovery API: search and describe features, entity types and registry versions.
import { Hono } from "hono";
import { z } from "zod";
import { authorize } from "../core/auth";
import { ComputationType, EntityTypeName } from "../core/definitions";
import { FeatureStoreError, invalidInput } from "../core/errors";
import { upstreamFeatures } from "../core/registry";
import type { ServingEnvVars } from "./app";

const FeatureQuery = z
  .object({
    q: z.string().max(200).optional(),
    tag: z.string().max(100).optional(),
    owner: z.string().max(200).optional(),
    entity_type: EntityTypeName.optional(),
    computation_type: ComputationType.optional(),
    group: z.string().max(200).optional(),
  })
  .strict();

const VersionsQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();

export function registryRoutes(): Hono<ServingEnvVars> {
  const r = new Hono<ServingEnvVars>();
  r.use(async (c, next) => {
    await authorize(c.req.header("authorization"), c.get("deps").apiKeys, "serve");
    await next();
  });

  r.get("/features", async (c) => {
    const parsed = FeatureQuery.safeParse(c.req.query());
    if (!parsed.success) throw invalidInput("query", parsed.error);
    const { q, tag, owner, entity_type, computation_type, group } = parsed.data;
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
    return c.json({ registry_version: registry.version, count: features.length, features });
  });

  r.get("/features/:name", async (c) => {
    const registry = await c.get("deps").registry();
    const name = c.req.param("name");
    const def = registry.resolve(name);
    if (!def) throw new FeatureStoreError("not_found", `Unknown feature: ${name}`, { registry_version: registry.version });
    return c.json({
      registry_version: registry.version,
      qualified_name: `${def.group}:${def.name}`,
      definition: def,
      lineage: {
        upstream: { tables: def.depends_on.tables, features: upstreamFeatures(def) },
        downstream: registry.dependents(def.name),
      },
    });
  });

  r.get("/entities", async (c) => {
    const registry = await c.get("deps").registry();
    const entities = registry.snapshot.entities.map((e) => ({ ...e, feature_count: registry.forEntity(e.name).length }));
    return c.json({ registry_version: registry.version, entities });
  });

  r.get("/versions", async (c) => {
    const parsed = VersionsQuery.safeParse(c.req.query());
    if (!parsed.success) throw invalidInput("query", parsed.error);
    const deps = c.get("deps");
    if (!deps.tiers.postgres) throw new FeatureStoreError("unavailable", "Registry history lives in Postgres, which is not configured");
    const versions = await deps.tiers.postgres.registryVersions(parsed.data.limit);
    return c.json({ current: deps.registryVersion(), versions });
  });
  return r;
}
