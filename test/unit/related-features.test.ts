// Related features: each kind of evidence scored with its weight and explained, in a deterministic order.
import { describe, expect, it } from "vitest";
import { FeatureDefinition, type FeatureDefinitionInput } from "../../src/core/definitions";
import { CompiledRegistry } from "../../src/core/registry";
import { RELATED_WEIGHTS, relatedFeatures } from "../../src/core/related-features";
import { catalogSnapshot } from "../support/catalog-snapshot";

const base = {
  group: "g",
  entity_type: "user",
  feature_type: "numerical",
  update_frequency: "1h",
  retention_days: 30,
  ttl_seconds: 7200,
  description: "d",
  owner: "o",
} as const;

function def(extra: Partial<FeatureDefinitionInput> & { name: string }): FeatureDefinition {
  const computation = extra.computation_type ?? "batch";
  return FeatureDefinition.parse({
    ...base,
    computation_type: computation,
    ...(computation === "batch" ? { source_query: "select 1" } : {}),
    ...extra,
  });
}

function registryOf(features: FeatureDefinition[], services: { name: string; features: string[] }[] = []): CompiledRegistry {
  return new CompiledRegistry({
    version: "r-test",
    version_number: 1,
    applied_at: new Date(0).toISOString(),
    author: "t",
    entities: [{ name: "user", join_key: "user_id", description: "u", id_prefix: "user_" }],
    features,
    event_types: [],
    feature_services: services.map((s) => ({ ...s, description: "s", owner: "o", tags: [] })),
  });
}

const events = (name: string, tags: string[] = []) =>
  def({
    name,
    computation_type: "aggregation",
    tags,
    ttl_seconds: 86_400,
    aggregation: { function: "count", source_event: "listening_event", window: "1h", tile: "1m" },
  });

describe("relatedFeatures", () => {
  const target = def({ name: "target", tags: ["a", "b"], depends_on: { tables: ["users", "plays"], features: ["parent"] } });
  const reg = registryOf(
    [
      target,
      def({ name: "parent" }),
      def({ name: "child", depends_on: { tables: [], features: ["target"] } }),
      def({ name: "same_tables", depends_on: { tables: ["users", "plays"], features: [] } }),
      def({ name: "one_tag", tags: ["b"] }),
      def({ name: "stranger", tags: ["z"], depends_on: { tables: ["other"], features: [] } }),
      def({ name: "co_used" }),
    ],
    [
      { name: "model_a", features: ["target", "co_used", "g:one_tag"] },
      { name: "model_b", features: ["co_used", "target"] },
    ],
  );

  it("scores lineage, service co-use, tables and tags with their weights, best first, and leaves out unrelated ones", () => {
    const related = relatedFeatures(reg, target);
    expect(related.map((r) => [r.name, r.score])).toEqual([
      ["child", RELATED_WEIGHTS.lineage],
      ["parent", RELATED_WEIGHTS.lineage],
      ["co_used", 2 * RELATED_WEIGHTS.featureService],
      ["one_tag", RELATED_WEIGHTS.featureService + RELATED_WEIGHTS.tag],
      ["same_tables", 2 * RELATED_WEIGHTS.table],
    ]);
    expect(related.find((r) => r.name === "co_used")?.reasons).toEqual([
      "used together in feature service model_a",
      "used together in feature service model_b",
    ]);
    expect(related.find((r) => r.name === "parent")?.reasons).toEqual(["upstream: target is computed from it"]);
    expect(related.find((r) => r.name === "child")?.reasons).toEqual(["downstream: it is computed from target"]);
    expect(related.find((r) => r.name === "same_tables")?.reasons).toEqual(["reads the same table: users", "reads the same table: plays"]);
  });

  it("relates aggregations over the same event type", () => {
    const r = registryOf([events("plays_1h", ["x"]), events("skips_1h"), def({ name: "batchy" })]);
    const related = relatedFeatures(r, r.resolve("plays_1h")!);
    expect(related).toEqual([
      { name: "skips_1h", group: "g", score: RELATED_WEIGHTS.eventSource, reasons: ["aggregates the same event type: listening_event"] },
    ]);
  });

  it("on the catalog: skip_rate_7d's closest features share its event source and model", () => {
    const catalog = new CompiledRegistry(catalogSnapshot("r-catalog"));
    const related = relatedFeatures(catalog, catalog.resolve("skip_rate_7d")!);
    const skips = related.find((r) => r.name === "skips_1h");
    expect(skips?.reasons).toEqual(
      expect.arrayContaining(["aggregates the same event type: listening_event", "used together in feature service skip_predictor_v1"]),
    );
    expect(related.slice(0, 3).map((r) => r.name)).toContain("skips_1h");
    expect(related.some((r) => r.name === "skip_rate_7d")).toBe(false);
    // Deterministic: the same order on every call.
    expect(relatedFeatures(catalog, catalog.resolve("skip_rate_7d")!)).toEqual(related);
  });
});
