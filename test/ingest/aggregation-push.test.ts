// Aggregation features are computed from events: a pushed value for one is refused with a reason, like on_demand.
import { describe, expect, it } from "vitest";
import { CompiledRegistry } from "../../src/core/registry";
import { checkUpdate } from "../../src/ingest/validate-update";
import { aggregationFeature } from "../support/aggregation-feature";
import { snapshotOf, TEST_FEATURES } from "./support";

describe("push of an aggregation feature", () => {
  it("is refused as not_writable, naming the event type it is computed from", () => {
    const plays = aggregationFeature("tst_plays_1h", {}, { group: "tst", description: "plays in the last hour", owner: "tests" });
    const registry = new CompiledRegistry(snapshotOf([...TEST_FEATURES, plays]));
    const now = Date.now();
    const check = checkUpdate(
      registry,
      { entity_type: "user", entity_id: "user_1", event_timestamp: now, features: { tst_plays_1h: 3 } },
      now,
    );
    expect(check.writes).toEqual([]);
    expect(check.reasons).toEqual([
      expect.objectContaining({
        feature: "tst_plays_1h",
        rule: "not_writable",
        message: expect.stringContaining("computed from listening_event events"),
      }),
    ]);
  });
});
