// `registry apply` names the aggregation features that need a backfill: new ones and changed specs, nothing else.
import { describe, expect, it } from "vitest";
import { FeatureDefinition } from "../../src/core/definitions";
import { diffRegistry } from "../../src/core/registry";
import type { RegistryPlan } from "../../tools/registry/plan";
import { backfillsNeeded, renderBackfillsNeeded } from "../../tools/stream/backfill-needed";

const agg = (name: string, aggregation: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  FeatureDefinition.parse({
    name,
    group: "g",
    entity_type: "user",
    feature_type: "numerical",
    computation_type: "aggregation",
    update_frequency: "realtime",
    retention_days: 30,
    ttl_seconds: 86_400,
    description: "d",
    owner: "o",
    aggregation: { source_event: "listening_event", function: "count", window: "1h", tile: "1m", ...aggregation },
    ...extra,
  });

const planOf = (applied: FeatureDefinition[], desired: FeatureDefinition[]) =>
  ({ features: diffRegistry(applied, desired, () => false) }) as RegistryPlan;

describe("backfillsNeeded", () => {
  it("lists created aggregation features and changed aggregation blocks, not other edits", () => {
    const applied = [agg("same"), agg("filtered"), agg("longer"), agg("retitled")];
    const desired = [
      agg("same"),
      agg("filtered", { filter: { source: "discover" } }),
      agg("longer", { window: "12h", tile: "5m" }),
      agg("retitled", {}, { description: "a better description" }),
      agg("brand_new"),
    ];
    const needs = backfillsNeeded(planOf(applied, desired), desired);
    expect(needs).toEqual([
      { feature: "brand_new", reason: "new aggregation feature" },
      { feature: "filtered", reason: "changed aggregation" },
      { feature: "longer", reason: "changed aggregation" },
    ]);
    expect(renderBackfillsNeeded(needs)).toContain("npm run stream -- backfill --feature filtered");
    expect(renderBackfillsNeeded([])).toBe("");
  });
});
