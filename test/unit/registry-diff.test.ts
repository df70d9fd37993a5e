// diffRegistry and planRegistry: what counts as a change, what counts as breaking, and content hashes that ignore key order.
import { describe, expect, it } from "vitest";
import { type EntityType, FeatureDefinition, type FeatureDefinitionInput } from "../../src/core/definitions";
import { canonicalJson, diffRegistry, registryContentHash } from "../../src/core/registry";
import { EMPTY_REGISTRY_VERSION, planRegistry, registryVersionOf } from "../../tools/registry/plan";

const BASE: FeatureDefinitionInput = {
  name: "skip_rate_7d",
  group: "user_behavior_features",
  entity_type: "user",
  feature_type: "numerical",
  computation_type: "batch",
  source_query: "SELECT id AS entity_id, 0.5 AS value FROM users",
  update_frequency: "6h",
  retention_days: 180,
  ttl_seconds: 43200,
  description: "Share of plays skipped over 7 days.",
  owner: "personalization@echotune.fm",
  min_value: 0,
  max_value: 1,
  depends_on: { tables: ["users"], features: [] },
};

const def = (overrides: Partial<FeatureDefinitionInput> = {}): FeatureDefinition => FeatureDefinition.parse({ ...BASE, ...overrides });
const noData = () => false;
const withData = () => true;

const USER: EntityType = { name: "user", join_key: "user_id", description: "A listener." };

describe("diffRegistry", () => {
  it("reports created, updated and deleted features, sorted by name", () => {
    const applied = [def(), def({ name: "old_b" }), def({ name: "old_a" })];
    const desired = [def({ ttl_seconds: 7200 }), def({ name: "new_b" }), def({ name: "new_a" })];
    const diff = diffRegistry(applied, desired, noData);
    expect(diff.created.map((c) => c.name)).toEqual(["new_a", "new_b"]);
    expect(diff.deleted.map((c) => c.name)).toEqual(["old_a", "old_b"]);
    expect(diff.updated).toEqual([
      {
        name: "skip_rate_7d",
        kind: "updated",
        breaking: false,
        changes: [{ field: "ttl_seconds", from: 43200, to: 7200, breaking: false }],
      },
    ]);
    expect(diff.empty).toBe(false);
  });

  it("is empty for identical definitions, whatever the order", () => {
    const diff = diffRegistry([def(), def({ name: "b" })], [def({ name: "b" }), def()], withData);
    expect(diff.empty).toBe(true);
    expect(diff.breaking).toEqual([]);
  });

  it("treats moving a feature to another group as breaking (group:name references stop resolving)", () => {
    const diff = diffRegistry([def()], [def({ group: "user_taste_features" })], noData);
    expect(diff.breaking.map((c) => c.name)).toEqual(["skip_rate_7d"]);
    expect(diff.updated[0]?.changes).toEqual([
      {
        field: "group",
        from: "user_behavior_features",
        to: "user_taste_features",
        breaking: true,
        reason: 'moving to another group breaks references to "user_behavior_features:skip_rate_7d"',
      },
    ]);
  });

  it("treats a removal as breaking", () => {
    const diff = diffRegistry([def()], [], noData);
    expect(diff.deleted).toHaveLength(1);
    expect(diff.breaking.map((c) => c.name)).toEqual(["skip_rate_7d"]);
  });

  it.each([
    ["feature_type", { feature_type: "categorical", min_value: undefined, max_value: undefined }],
    ["entity_type", { entity_type: "track" }],
    ["computation_type", { computation_type: "stream", source_query: undefined }],
  ] as const)("marks a %s change breaking even without stored data", (field, overrides) => {
    const diff = diffRegistry([def()], [def(overrides)], noData);
    const change = diff.updated[0]?.changes.find((c) => c.field === field);
    expect(change?.breaking).toBe(true);
    expect(change?.reason).toContain(field);
    expect(diff.breaking).toHaveLength(1);
  });

  it("marks embedding dimension and array item_type changes breaking", () => {
    const emb = (dimension: number) => def({ feature_type: "embedding", dimension, min_value: undefined, max_value: undefined });
    expect(diffRegistry([emb(16)], [emb(32)], noData).updated[0]?.breaking).toBe(true);
    const arr = (item_type: "string" | "number") => def({ feature_type: "array", item_type, min_value: undefined, max_value: undefined });
    expect(diffRegistry([arr("string")], [arr("number")], noData).updated[0]?.breaking).toBe(true);
  });

  it("marks tightened validation breaking only when the feature has stored data", () => {
    const tighter = def({ max_value: 0.5 });
    expect(diffRegistry([def()], [tighter], noData).breaking).toEqual([]);
    const withStored = diffRegistry([def()], [tighter], withData);
    expect(withStored.breaking).toHaveLength(1);
    expect(withStored.updated[0]?.changes[0]).toMatchObject({ field: "max_value", from: 1, to: 0.5, breaking: true });
    expect(withStored.updated[0]?.changes[0]?.reason).toMatch(/tightened validation \(max_value\)/);
  });

  it("never marks loosened validation breaking", () => {
    const looser = def({ min_value: -1, max_value: undefined });
    const diff = diffRegistry([def()], [looser], withData);
    expect(diff.updated[0]?.changes.map((c) => c.field)).toEqual(["max_value", "min_value"]);
    expect(diff.breaking).toEqual([]);
  });

  it("treats dropping an allowed value as tightening and adding one as not", () => {
    const cat = (allowed_values: string[]) =>
      def({ feature_type: "categorical", min_value: undefined, max_value: undefined, allowed_values });
    expect(diffRegistry([cat(["free", "premium"])], [cat(["free"])], withData).breaking).toHaveLength(1);
    expect(diffRegistry([cat(["free"])], [cat(["free", "premium"])], withData).breaking).toEqual([]);
  });

  it("treats null_policy reject as tightening on stored data", () => {
    expect(diffRegistry([def()], [def({ null_policy: "reject" })], withData).breaking).toHaveLength(1);
    expect(diffRegistry([def()], [def({ null_policy: "reject" })], noData).breaking).toEqual([]);
  });
});

describe("content hash", () => {
  it("canonicalJson ignores key order and undefined values", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe(
      canonicalJson({ a: { d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });

  it("registryContentHash is stable under key order and feature order, and changes with any value", async () => {
    const a = def();
    const reordered = FeatureDefinition.parse(Object.fromEntries(Object.entries(BASE).reverse()));
    const other = def({ name: "other" });
    const h1 = await registryContentHash([USER], [a, other]);
    const h2 = await registryContentHash([USER], [other, reordered]);
    expect(h1).toBe(h2);
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
    expect(await registryContentHash([USER], [def({ ttl_seconds: 1 }), other])).not.toBe(h1);
  });
});

describe("planRegistry", () => {
  it("is empty when applied and desired match, and names the version", async () => {
    const plan = await planRegistry({ entities: [USER], features: [def()] }, { entities: [USER], features: [def()] }, noData);
    expect(plan.empty).toBe(true);
    expect(plan.appliedVersion).toBe(plan.desiredVersion);
    expect(plan.desiredVersion).toBe(registryVersionOf(await registryContentHash([USER], [def()])));
    expect(plan.desiredVersion).toMatch(/^r-[0-9a-f]{12}$/);
  });

  it("calls a never-applied registry r-empty", async () => {
    const plan = await planRegistry({ entities: [], features: [] }, { entities: [USER], features: [def()] }, noData);
    expect(plan.appliedVersion).toBe(EMPTY_REGISTRY_VERSION);
    expect(plan.entities).toEqual([{ name: "user", kind: "created", changes: [], breaking: false }]);
    expect(plan.breakingReasons).toEqual([]);
  });

  it("lists one breaking reason per breaking change, including entity join keys", async () => {
    const renamedKey = { ...USER, join_key: "listener_id" };
    const plan = await planRegistry(
      { entities: [USER], features: [def(), def({ name: "gone" })] },
      { entities: [renamedKey], features: [def({ max_value: 0.5 })] },
      withData,
    );
    expect(plan.breakingReasons).toEqual([
      expect.stringMatching(/^skip_rate_7d: tightened validation/),
      expect.stringMatching(/^gone: feature removed/),
      expect.stringMatching(/^entity user: join_key/),
    ]);
  });

  it("does not treat an entity description change as breaking", async () => {
    const plan = await planRegistry(
      { entities: [USER], features: [] },
      { entities: [{ ...USER, description: "Someone." }], features: [] },
      noData,
    );
    expect(plan.empty).toBe(false);
    expect(plan.entities[0]).toMatchObject({ kind: "updated", breaking: false });
  });
});
