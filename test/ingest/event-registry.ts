// The small event registry and helpers of the raw-event ingest tests (POST /ingest/events and the feature-events consumer).
import { env } from "cloudflare:test";
import type { AggregationPlan } from "../../src/core/aggregation";
import { EventType } from "../../src/core/event-types";
import { durableObjectName, type TimedValue } from "../../src/core/keys";
import { CompiledRegistry } from "../../src/core/registry";
import { planOf } from "../../src/stores/aggregate-store";
import { aggregationFeature } from "../support/aggregation-feature";
import { uid } from "./support";

export const MIN = 60_000;

const feature = (name: string, entityType: "user" | "track", aggregation: Record<string, unknown>) =>
  aggregationFeature(name, aggregation, { group: `evt_${entityType}`, entity_type: entityType });

export const REGISTRY = new CompiledRegistry({
  version: "r-events-test",
  version_number: 1,
  applied_at: "2026-12-01T00:00:00.000Z",
  author: "tests",
  entities: [
    { name: "user", join_key: "user_id", description: "a listener", id_prefix: "user_" },
    { name: "track", join_key: "track_id", description: "a track", id_prefix: "track_" },
  ],
  features: [
    feature("evt_plays_1h", "user", { function: "count" }),
    feature("evt_skips_1h", "user", { function: "sum", field: "skipped" }),
    feature("evt_track_plays_1h", "track", { function: "count" }),
  ],
  event_types: [
    EventType.parse({
      name: "listening_event",
      description: "a play",
      entity_keys: ["user_id", "track_id"],
      allowed_lateness: "1h",
      fields: { seconds_played: { type: "number" }, skipped: { type: "boolean" }, source: { type: "string" } },
    }),
  ],
});

export const play = (user: string, track: string, ts: number, fields: Record<string, unknown> = {}) => ({
  event_type: "listening_event",
  event_id: uid("evt"),
  event_timestamp: new Date(ts).toISOString(),
  entities: { user_id: user, track_id: track },
  fields: { seconds_played: 31.5, skipped: false, source: "home", ...fields },
});

export async function aggregates(entityType: string, entityId: string): Promise<Record<string, unknown>> {
  const plans = REGISTRY.forEntity(entityType)
    .map((d) => planOf(REGISTRY, d.name))
    .filter((p): p is AggregationPlan => p !== undefined);
  const stub = env.ENTITY_STATE.get(env.ENTITY_STATE.idFromName(durableObjectName(entityType, entityId)));
  const got = (await stub.getAggregates(plans)) as Record<string, TimedValue>;
  return Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.value]));
}
