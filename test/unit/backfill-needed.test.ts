// `registry apply` names the aggregation features that need a backfill: new ones and changed specs, nothing else.
import { describe, expect, it } from "vitest";
import type { FeatureDefinition } from "../../src/core/definitions";
import { diffRegistry } from "../../src/core/registry";
import type { RegistryPlan } from "../../tools/registry/plan";
import { backfillsNeeded, renderBackfillsNeeded } from "../../tools/stream/backfill-needed";
import { aggregationFeature } from "../support/aggregation-feature";

const agg = (name: string, aggregation: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  aggregationFeature(name, aggregation, { ttl_seconds: 86_400, ...extra });

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
