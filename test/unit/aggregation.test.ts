// The window rule and the aggregate functions of src/core/aggregation.ts, on hand-computed cases and tile edges.
import { describe, expect, it } from "vitest";
import {
  type AggregationEvent,
  type AggregationPlan,
  aggregationPlan,
  DISTINCT_EXACT_LIMIT,
  evaluateWindow,
  foldIntoTiles,
  oldestTileStart,
  tileInWindow,
} from "../../src/core/aggregation";
import { AggregationSpec, FeatureDefinition, type FeatureDefinitionInput } from "../../src/core/definitions";
import { EventEnvelope, EventType, eventIssues } from "../../src/core/event-types";

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0); // a whole hour

const LISTENING = EventType.parse({
  name: "listening_event",
  description: "a play",
  entity_keys: ["user_id", "track_id"],
  allowed_lateness: "1h",
  fields: {
    seconds_played: { type: "number" },
    skipped: { type: "boolean" },
    source: { type: "string" },
    track: { type: "string", optional: true },
  },
});

function plan(aggregation: Record<string, unknown>, extra: Partial<FeatureDefinitionInput> = {}): AggregationPlan {
  const def = FeatureDefinition.parse({
    name: "f",
    group: "g",
    entity_type: "user",
    feature_type: aggregation.function === "last_n" ? "array" : "numerical",
    computation_type: "aggregation",
    update_frequency: "realtime",
    retention_days: 30,
    ttl_seconds: 30 * 86_400,
    description: "d",
    owner: "o",
    aggregation: { source_event: "listening_event", window: "1h", tile: "1m", ...aggregation },
    ...extra,
  });
  return aggregationPlan(def, LISTENING);
}

let seq = 0;
function play(ts: number, fields: Record<string, unknown> = {}): AggregationEvent {
  seq++;
  return {
    event_type: "listening_event",
    event_id: `e${String(seq).padStart(6, "0")}`,
    event_timestamp: ts,
    fields: { seconds_played: 30, skipped: false, source: "home", ...fields },
  };
}

const at = (p: AggregationPlan, events: AggregationEvent[], t: number) =>
  evaluateWindow(
    p,
    foldIntoTiles(
      p,
      events.filter((e) => e.event_timestamp <= t),
    ),
    t,
  );

describe("window rule: tiles whose start lies in (t − W, t], events up to t", () => {
  const count = plan({ function: "count" });

  it("a 1h window in 1m tiles at 12:00:30 covers 11:01:00 .. 12:00:30", () => {
    const t = T0 + 30_000;
    const events = [
      play(T0 - HOUR + 59_999), // 11:00:59.999: in the partly covered oldest tile, left out
      play(T0 - HOUR + MIN), // 11:01:00.000: first whole tile
      play(T0 - 1), // 11:59:59.999
      play(T0 + 30_000), // exactly t: counts
    ];
    expect(at(count, events, t)).toEqual({ value: 3, eventTimestamp: T0 + 30_000 });
    expect(oldestTileStart(count, t)).toBe(T0 - HOUR + MIN);
  });

  it("on a tile boundary t = 12:00:00 the window is the 60 tiles 11:01 .. 12:00, the current one holding only events at t", () => {
    const events = [play(T0 - HOUR), play(T0 - HOUR + MIN), play(T0)];
    expect(at(count, events, T0)?.value).toBe(2);
    expect(tileInWindow(count, T0 - HOUR, T0)).toBe(false);
    expect(tileInWindow(count, T0 - HOUR + MIN, T0)).toBe(true);
    expect(tileInWindow(count, T0, T0)).toBe(true);
    expect(tileInWindow(count, T0 + MIN, T0)).toBe(false);
  });

  it("an event one ms before the window's start drops out when t crosses into the next tile", () => {
    const e = play(T0 - HOUR + MIN); // start of tile 11:01
    expect(at(count, [e], T0 + MIN - 1)?.value).toBe(1);
    expect(at(count, [e], T0 + MIN)).toBeUndefined();
  });

  it("no event of the source type in the window: no value (the feature's null policy decides)", () => {
    expect(at(count, [play(T0 - 2 * HOUR)], T0)).toBeUndefined();
    expect(at(count, [], T0)).toBeUndefined();
  });

  it("lifetime counts every event up to t", () => {
    const life = plan({ function: "count", window: "lifetime", tile: undefined });
    const events = [play(0), play(T0 - 400 * 86_400_000), play(T0)];
    expect(at(life, events, T0)?.value).toBe(3);
    expect(at(life, events, T0 - 1)?.value).toBe(2);
  });
});

describe("functions", () => {
  const t = T0 + 10 * MIN;
  const events = [
    play(T0 + 1 * MIN, { seconds_played: 10.5, skipped: true, source: "discover", track: "a" }),
    play(T0 + 2 * MIN, { seconds_played: 200, skipped: false, source: "home", track: "b" }),
    play(T0 + 3 * MIN, { seconds_played: 0.25, skipped: true, source: "discover", track: "a" }),
    play(T0 + 4 * MIN, { seconds_played: 60, skipped: false, source: "search", track: null }),
  ];
  const value = (a: Record<string, unknown>) => at(plan(a), events, t)?.value;

  it("count, sum of a boolean (true = 1), sum, avg, min, max", () => {
    expect(value({ function: "count" })).toBe(4);
    expect(value({ function: "sum", field: "skipped" })).toBe(2);
    expect(value({ function: "sum", field: "seconds_played" })).toBe(270.75);
    expect(value({ function: "avg", field: "seconds_played" })).toBe(270.75 / 4);
    expect(value({ function: "min", field: "seconds_played" })).toBe(0.25);
    expect(value({ function: "max", field: "seconds_played" })).toBe(200);
  });

  it("a filter keeps the events whose fields match (one value or one of several)", () => {
    expect(value({ function: "count", filter: { source: "discover" } })).toBe(2);
    expect(value({ function: "count", filter: { source: ["home", "search"] } })).toBe(2);
    expect(value({ function: "count", filter: { source: "discover", skipped: false } })).toBe(0);
    // Nothing matched but events are in the window: avg/min/max are null, count and sum 0.
    expect(value({ function: "avg", field: "seconds_played", filter: { source: "radio" } })).toBeNull();
    expect(value({ function: "sum", field: "seconds_played", filter: { source: "radio" } })).toBe(0);
  });

  it("count with a field counts events where it has a value; distinct_count; last_n newest first", () => {
    expect(value({ function: "count", field: "track" })).toBe(3);
    expect(value({ function: "distinct_count", field: "track" })).toBe(2);
    expect(value({ function: "distinct_count", field: "source" })).toBe(3);
    expect(value({ function: "last_n", field: "source", n: 3 })).toEqual(["search", "discover", "home"]);
  });

  it("ratio: skip rate = sum(skipped) / count; a zero denominator is null", () => {
    const skipRate = { function: "ratio", numerator: { function: "sum", field: "skipped" }, denominator: { function: "count" } };
    expect(value(skipRate)).toBe(0.5);
    expect(value({ ...skipRate, filter: { source: "discover" } })).toBe(1);
    expect(value({ ...skipRate, filter: { source: "radio" } })).toBeNull();
    // Each side may filter on its own: discover plays / all plays.
    expect(
      value({ function: "ratio", numerator: { function: "count", filter: { source: "discover" } }, denominator: { function: "count" } }),
    ).toBe(0.5);
  });

  it("distinct_count is exact up to DISTINCT_EXACT_LIMIT and reports the limit above it, over tiles too", () => {
    const p = plan({ function: "distinct_count", field: "track" });
    const many = Array.from({ length: DISTINCT_EXACT_LIMIT + 300 }, (_, i) => play(T0 + (i % 5) * MIN, { track: `t${i}` }));
    expect(at(p, many, t)?.value).toBe(DISTINCT_EXACT_LIMIT);
    const few = many.slice(0, DISTINCT_EXACT_LIMIT - 1);
    expect(at(p, few, t)?.value).toBe(DISTINCT_EXACT_LIMIT - 1);
  });

  it("the served event time is the newest event in the window, filtered or not", () => {
    expect(at(plan({ function: "count", filter: { source: "discover" } }), events, t)?.eventTimestamp).toBe(T0 + 4 * MIN);
  });

  it("folding is order-independent, sums included (fixed-point micro-units)", () => {
    const floats = Array.from({ length: 200 }, (_, i) => play(T0 + (i % 7) * MIN, { seconds_played: 0.1 + i * 1.37 }));
    const p = plan({ function: "sum", field: "seconds_played" });
    const forward = at(p, floats, t);
    const backward = at(p, [...floats].reverse(), t);
    expect(backward).toEqual(forward);
  });
});

describe("spec validation", () => {
  it("rejects a window that is not a whole number of tiles, missing fields, and a ttl shorter than the window", () => {
    const issues = (a: Record<string, unknown>) =>
      AggregationSpec.safeParse({ source_event: "e", window: "1h", tile: "1m", ...a }).error?.issues.map((i) => i.message) ?? [];
    expect(issues({ function: "count", tile: "7m" })).toEqual(["window 1h is not a whole number of 7m tiles"]);
    expect(issues({ function: "sum" })).toEqual(["sum needs a field"]);
    expect(issues({ function: "last_n", field: "x" })).toEqual(["last_n needs n"]);
    expect(issues({ function: "ratio", numerator: { function: "count" } })).toEqual(["a ratio needs a denominator"]);
    expect(issues({ function: "count", window: "lifetime" })).toEqual(["a lifetime aggregate has no tiles (one accumulator)"]);
    expect(() => plan({ function: "count", window: "7d", tile: "1h" }, { ttl_seconds: 3600 })).toThrow(/shorter than the window 7d/);
    expect(() => plan({ function: "count", tile: undefined })).toThrow(/needs a tile size/);
  });

  it("a changed spec names new tiles; a changed window keeps them", () => {
    const base = plan({ function: "count" });
    expect(plan({ function: "count", window: "2h" }).fingerprint).toBe(base.fingerprint);
    expect(plan({ function: "count", filter: { source: "home" } }).fingerprint).not.toBe(base.fingerprint);
    expect(plan({ function: "count", tile: "5m" }).fingerprint).not.toBe(base.fingerprint);
  });
});

describe("event envelope against its event type", () => {
  it("names missing entity keys, unknown and mistyped fields", () => {
    const e = EventEnvelope.parse({
      event_type: "listening_event",
      event_id: "x",
      event_timestamp: "2026-12-01T12:00:00Z",
      entities: { user_id: "user_1", artist_id: "artist_1" },
      fields: { seconds_played: "30", skipped: false, source: "home", mood: "happy" },
    });
    expect(eventIssues(LISTENING, e)).toEqual([
      { path: "entities.track_id", message: "required" },
      { path: "entities.artist_id", message: "not an entity key of listening_event" },
      { path: "fields.seconds_played", message: "expected number, got string" },
      { path: "fields.mood", message: "not a field of listening_event" },
    ]);
  });
});
