// Materialization's pure parts: which features the cron runs, source-value coercion, run completeness.
import { describe, expect, it } from "vitest";
import { FeatureDefinition, type FeatureDefinitionInput } from "../../src/core/definitions";
import { coerceSourceValue } from "../../src/materialize/coerce";
import { isComplete } from "../../src/materialize/events";
import { DUE_SLACK_MS, planScheduledRuns } from "../../src/materialize/schedule";

const HOUR = 3_600_000;
const base: FeatureDefinitionInput = {
  name: "x",
  group: "g",
  entity_type: "user",
  feature_type: "numerical",
  computation_type: "batch",
  update_frequency: "1h",
  retention_days: 1,
  ttl_seconds: 60,
  description: "d",
  owner: "o",
  source_query: "select 1",
};
const def = (over: Partial<FeatureDefinitionInput>) => FeatureDefinition.parse({ ...base, ...over });
/** What the cron starts: the features planScheduledRuns marks due, in its order. */
const dueFeatures = (...args: Parameters<typeof planScheduledRuns>) =>
  planScheduledRuns(...args)
    .filter((d) => d.due)
    .map((d) => d.feature);

describe("planScheduledRuns", () => {
  const now = Date.parse("2026-11-28T12:00:00Z");
  const features = [
    def({ name: "hourly", update_frequency: "1h" }),
    def({ name: "daily", update_frequency: "1d" }),
    def({ name: "fresh", update_frequency: "6h" }),
    def({ name: "live", computation_type: "stream", source_query: undefined, update_frequency: "realtime" }),
  ];
  const last = new Map([
    ["hourly", now - HOUR],
    ["daily", now - 23 * HOUR],
    ["fresh", now - HOUR],
  ]);

  it("selects batch features whose frequency elapsed or that never ran, never stream features", () => {
    expect(dueFeatures(features, last, now)).toEqual(["hourly"]);
    expect(dueFeatures(features, new Map(), now)).toEqual(["hourly", "daily", "fresh"]);
    expect(planScheduledRuns(features, last, now).map((d) => d.feature)).not.toContain("live");
  });

  it("tolerates a run that ended just after its cron tick", () => {
    const late = new Map([["hourly", now - HOUR + DUE_SLACK_MS / 2]]);
    expect(dueFeatures([features[0]!], late, now)).toEqual(["hourly"]);
    const tooEarly = new Map([["hourly", now - HOUR + 2 * DUE_SLACK_MS]]);
    expect(dueFeatures([features[0]!], tooEarly, now)).toEqual([]);
    expect(planScheduledRuns([features[0]!], tooEarly, now)[0]!.reason).toMatch(/^next due at /);
  });
});

describe("coerceSourceValue", () => {
  it("turns numeric and bigint text into numbers for numerical features", () => {
    expect(coerceSourceValue(def({}), "0.4215")).toBe(0.4215);
    expect(coerceSourceValue(def({}), "12")).toBe(12);
    expect(coerceSourceValue(def({}), "-1e3")).toBe(-1000);
    expect(coerceSourceValue(def({}), null)).toBeNull();
    expect(coerceSourceValue(def({}), "twelve")).toBe("twelve");
    expect(coerceSourceValue(def({}), true)).toBe(true);
  });

  it("converts items of number arrays and embeddings, and numbers to categories", () => {
    expect(coerceSourceValue(def({ feature_type: "embedding", dimension: 2 }), ["1.5", 2])).toEqual([1.5, 2]);
    expect(coerceSourceValue(def({ feature_type: "array", item_type: "number" }), ["3"])).toEqual([3]);
    expect(coerceSourceValue(def({ feature_type: "array", item_type: "string" }), [1, "a"])).toEqual(["1", "a"]);
    expect(coerceSourceValue(def({ feature_type: "categorical" }), 1990)).toBe("1990");
  });
});

describe("isComplete", () => {
  it("needs a succeeded run whose rows are all written or rejected", () => {
    expect(isComplete({ status: "succeeded", rows_read: 10, rows_written: 9, rejects: 1 })).toBe(true);
    expect(isComplete({ status: "succeeded", rows_read: 10, rows_written: 8, rejects: 1 })).toBe(false);
    expect(isComplete({ status: "running", rows_read: 0, rows_written: 0, rejects: 0 })).toBe(false);
  });
});
