// Aggregation features through the read path: events folded into the entity's Durable Object are served by
// POST /features/get from the aggregate tier, computed over the window ending at request time.
import { beforeAll, describe, expect, it } from "vitest";
import type { AggregationEvent } from "../../src/core/aggregation";
import type { FeatureDefinitionInput } from "../../src/core/definitions";
import type { FeatureResponse } from "../../src/core/feature-request";
import { CompiledRegistry, type RegistrySnapshot } from "../../src/core/registry";
import { planOf } from "../../src/stores/aggregate-store";
import { aggregationFeature } from "../support/aggregation-feature";
import { entityStub, eventually, post, publishRegistry, snapshot, uniqueId } from "./support";

const MIN = 60_000;
const VERSION = "r-aggregates-test";

const aggregate = (name: string, aggregation: Record<string, unknown>, extra: Partial<FeatureDefinitionInput> = {}) =>
  aggregationFeature(name, aggregation, extra);

const FEATURES = [
  aggregate("test_plays_1h", { function: "count" }, { null_policy: "default", default_value: 0 }),
  aggregate("test_skip_rate_1h", {
    function: "ratio",
    numerator: { function: "sum", field: "skipped" },
    denominator: { function: "count" },
  }),
  aggregate("test_discover_seconds_1h", { function: "sum", field: "seconds_played", filter: { source: "discover" } }),
];

let registry: CompiledRegistry;

beforeAll(async () => {
  const base = snapshot();
  const s: RegistrySnapshot = { ...base, version: VERSION, features: [...base.features, ...FEATURES] };
  expect(s.event_types.map((e) => e.name)).toContain("listening_event");
  registry = new CompiledRegistry(s);
  await publishRegistry(s);
});

async function getFeatures(body: Record<string, unknown>): Promise<FeatureResponse> {
  const res = await post("/features/get", { include_metadata: true, ...body });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as FeatureResponse;
}

let seq = 0;
const play = (ts: number, fields: Record<string, unknown>): AggregationEvent => ({
  event_type: "listening_event",
  event_id: `serve-${++seq}-${Math.floor(Math.random() * 1e9)}`,
  event_timestamp: ts,
  fields: { seconds_played: 30, skipped: false, source: "home", device_type: "mobile", ...fields },
});

describe("aggregation features on /features/get", () => {
  it("serves the aggregates of folded events from the Durable Object, with the newest event's time", async () => {
    const user = uniqueId("user_agg_serve_");
    const now = Date.now();
    const newest = now - 2 * MIN;
    const plans = FEATURES.map((f) => planOf(registry, f.name)).filter((p) => p !== undefined);
    expect(plans).toHaveLength(FEATURES.length);
    await entityStub("user", user).foldEvents(
      [
        play(now - 30 * MIN, { skipped: true, source: "discover", seconds_played: 12.5 }),
        play(now - 20 * MIN, { source: "discover", seconds_played: 100 }),
        play(newest, { skipped: true }),
        play(now - 2 * 60 * MIN, { skipped: true }), // outside the 1h window (and too late: refused)
      ],
      plans,
    );
    const names = FEATURES.map((f) => f.name);
    const res = await eventually(async () => {
      const r = await getFeatures({ entity_id: user, feature_names: names });
      return r.feature_store_version === VERSION ? r : undefined;
    });
    expect(res.features).toEqual({ test_plays_1h: 3, test_skip_rate_1h: 2 / 3, test_discover_seconds_1h: 112.5 });
    for (const name of names) {
      expect(res.metadata?.[name]).toMatchObject({
        status: "PRESENT",
        tier: "durable_object",
        event_timestamp: new Date(newest).toISOString(),
      });
    }
  });

  it("an entity with no event in the window gets the null policy: DEFAULTED 0 for the count, null for the ratio", async () => {
    const user = uniqueId("user_agg_empty_");
    const res = await eventually(async () => {
      const r = await getFeatures({ entity_id: user, feature_names: ["test_plays_1h", "test_skip_rate_1h"] });
      return r.feature_store_version === VERSION ? r : undefined;
    });
    expect(res.features).toEqual({ test_plays_1h: 0, test_skip_rate_1h: null });
    expect(res.metadata?.test_plays_1h?.status).toBe("DEFAULTED");
    expect(res.metadata?.test_skip_rate_1h?.status).toBe("NOT_FOUND");
  });
});
