// Feature services in the catalog: loading and cross-checking services.yaml, the plan's diff and breaking rules, the content hash.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { FeatureServiceDefinition } from "../../src/core/feature-services";
import { diffFeatureServices, registryContentHash } from "../../src/core/registry";
import { FEATURES_DIR } from "../../tools/paths";
import { formatDefinitionError, loadDefinitions } from "../../tools/registry/load-definitions";
import { planRegistry } from "../../tools/registry/plan";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The catalog with services.yaml replaced by `yaml`. */
function catalogWith(yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "services-"));
  dirs.push(dir);
  cpSync(FEATURES_DIR, dir, { recursive: true });
  writeFileSync(path.join(dir, "services.yaml"), yaml);
  return dir;
}

const svc = (over: Partial<FeatureServiceDefinition> = {}): FeatureServiceDefinition => ({
  name: "ranker",
  description: "ranks",
  owner: "ml@echotune.fm",
  tags: [],
  features: ["skip_rate_7d", "energy"],
  ...over,
});

describe("services.yaml", () => {
  it("loads the catalog's services", () => {
    const loaded = loadDefinitions(FEATURES_DIR);
    expect(loaded.errors).toEqual([]);
    expect(loaded.featureServices.map((s) => s.name)).toEqual(["skip_predictor_v1", "next_track_ranker_v2", "churn_risk_v1"]);
  });

  it("refuses unknown features, features listed twice, duplicate names and bad fields, naming the service", () => {
    const dir = catalogWith(`feature_services:
  - {name: a, description: d, owner: o, features: [skip_rate_7d, no_such_feature, "user_behavior_features:nope"]}
  - {name: b, description: d, owner: o, features: [skip_rate_7d, "user_behavior_features:skip_rate_7d"]}
  - {name: b, description: d, owner: o, features: [energy]}
  - {name: C, description: d, owner: o, features: []}
`);
    const loaded = loadDefinitions(dir);
    // Errors name the catalog directory as given: here a temporary copy of features/.
    const messages = loaded.errors.map((e) => formatDefinitionError(e).replace(path.basename(dir), "features"));
    expect(messages).toContain('features/services.yaml: a: features: "no_such_feature", "user_behavior_features:nope" not in the catalog');
    expect(messages).toContain("features/services.yaml: b: features: skip_rate_7d listed more than once");
    expect(messages).toContain("features/services.yaml: b: duplicate feature service");
    expect(messages.some((m) => m.startsWith("features/services.yaml: C: name:"))).toBe(true);
    expect(messages.some((m) => m.startsWith("features/services.yaml: C: features:"))).toBe(true);
    expect(loaded.featureServices).toEqual([]);
  });
});

describe("diffFeatureServices", () => {
  it("treats removing a service or one of its features as breaking, adding features or editing metadata as not", () => {
    const base = svc();
    expect(diffFeatureServices([base], [base])).toEqual([]);
    const added = diffFeatureServices([base], [svc({ features: ["skip_rate_7d", "energy", "valence"], owner: "x" })]);
    expect(added).toMatchObject([{ name: "ranker", kind: "updated", breaking: false }]);
    const dropped = diffFeatureServices([base], [svc({ features: ["skip_rate_7d"] })]);
    expect(dropped[0]!.breaking).toBe(true);
    expect(dropped[0]!.changes[0]!.reason).toBe("features removed from the service: energy");
    expect(diffFeatureServices([base], [])).toMatchObject([{ name: "ranker", kind: "deleted", breaking: true }]);
    expect(diffFeatureServices([], [base])).toMatchObject([{ name: "ranker", kind: "created", breaking: false }]);
  });

  it("puts service changes in the plan and refuses a removal without --allow-breaking", async () => {
    const loaded = loadDefinitions(FEATURES_DIR);
    const content = { entities: loaded.entities, features: loaded.features, eventTypes: loaded.eventTypes };
    const plan = await planRegistry(
      { ...content, featureServices: loaded.featureServices },
      { ...content, featureServices: [] },
      () => false,
    );
    expect(plan.empty).toBe(false);
    expect(plan.featureServices.map((c) => c.kind)).toEqual(["deleted", "deleted", "deleted"]);
    expect(plan.breakingReasons).toContain("feature service churn_risk_v1: feature service removed: models that read it by name will fail");
  });
});

describe("registryContentHash", () => {
  it("is unchanged for a registry without services, and changes with them", async () => {
    const loaded = loadDefinitions(FEATURES_DIR);
    const without = await registryContentHash(loaded.entities, loaded.features, loaded.eventTypes);
    expect(await registryContentHash(loaded.entities, loaded.features, loaded.eventTypes, [])).toBe(without);
    expect(await registryContentHash(loaded.entities, loaded.features, loaded.eventTypes, [svc()])).not.toBe(without);
  });
});
