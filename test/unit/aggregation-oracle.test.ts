// Oracle: windows evaluated over tiles (src/core/aggregation.ts) against brute force over raw events, on seeded
// random histories with duplicates, out-of-order, late and too-late arrivals; a mutated window edge must be caught.
import { describe, expect, it } from "vitest";
import {
  type AggregationEvent,
  type AggregationPlan,
  aggregationPlan,
  DISTINCT_EXACT_LIMIT,
  evaluateWindow,
  foldIntoTiles,
  SUM_SCALE,
  shardOf,
  type Tile,
} from "../../src/core/aggregation";
import type { AggregatePart, AggregationSpec } from "../../src/core/definitions";
import { FeatureDefinition } from "../../src/core/definitions";
import { EventType } from "../../src/core/event-types";
import type { TimedValue } from "../../src/core/keys";
import { mulberry32 } from "../../src/core/random";

const SEED = 20261201;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 10, 20);
const SPAN = 9 * DAY;
const EVENTS = 1_500;
const QUERIES = 300;
const LATENESS = HOUR;
/** As EntityState's MAX_FUTURE_MS: a later-stamped arrival is refused. */
const MAX_FUTURE = MIN;

const LISTENING = EventType.parse({
  name: "listening_event",
  description: "a play",
  entity_keys: ["user_id"],
  allowed_lateness: "1h",
  fields: { seconds_played: { type: "number" }, skipped: { type: "boolean" }, source: { type: "string" }, track: { type: "string" } },
});

const SPECS: Record<string, Record<string, unknown>> = {
  plays_1h: { function: "count", window: "1h", tile: "1m" },
  discover_seconds_1h: { function: "sum", field: "seconds_played", filter: { source: "discover" }, window: "1h", tile: "1m" },
  avg_seconds_7d: { function: "avg", field: "seconds_played", window: "7d", tile: "1h" },
  min_seconds_1d: { function: "min", field: "seconds_played", window: "1d", tile: "1h" },
  max_seconds_6h: { function: "max", field: "seconds_played", window: "6h", tile: "15m" },
  distinct_tracks_2h: { function: "distinct_count", field: "track", window: "2h", tile: "5m" },
  last_sources: { function: "last_n", field: "source", n: 3, window: "1d", tile: "1h" },
  skip_rate_7d: {
    function: "ratio",
    numerator: { function: "sum", field: "skipped" },
    denominator: { function: "count", filter: { source: ["home", "discover", "search"] } },
    window: "7d",
    tile: "1h",
  },
  plays_lifetime: { function: "count", window: "lifetime" },
};

const PLANS: AggregationPlan[] = Object.entries(SPECS).map(([name, aggregation]) =>
  aggregationPlan(
    FeatureDefinition.parse({
      name,
      group: "g",
      entity_type: "user",
      feature_type: aggregation.function === "last_n" ? "array" : "numerical",
      computation_type: "aggregation",
      update_frequency: "realtime",
      retention_days: 30,
      ttl_seconds: 30 * 86_400,
      description: "d",
      owner: "o",
      aggregation: { source_event: "listening_event", ...aggregation },
    }),
    LISTENING,
  ),
);

interface Arrival {
  event: AggregationEvent;
  arrivesAt: number;
}

/** One history: unique events, and the stream that delivers them (duplicates, shuffled, late, early). */
function history(seed: number): { unique: Arrival[]; stream: Arrival[] } {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  const unique: Arrival[] = [];
  for (let i = 0; i < EVENTS; i++) {
    // Some events exactly on minute and hour edges: the window edges are what the rule is about.
    const raw = START + Math.floor(rand() * SPAN);
    const ts = rand() < 0.15 ? Math.floor(raw / MIN) * MIN : rand() < 0.1 ? Math.floor(raw / HOUR) * HOUR : raw;
    const r = rand();
    // Mostly prompt; some late within the lateness, some too late, some stamped slightly (or too far) ahead.
    const delay =
      r < 0.7 ? rand() * 5_000 : r < 0.85 ? rand() * LATENESS : r < 0.93 ? LATENESS + 1 + rand() * HOUR : -rand() * 2 * MAX_FUTURE;
    unique.push({
      arrivesAt: Math.round(ts + delay),
      event: {
        event_type: "listening_event",
        event_id: `ev-${i}`,
        event_timestamp: ts,
        fields: {
          seconds_played: Math.round(rand() * 300_000) / 1000,
          skipped: rand() < 0.3,
          source: pick(["home", "search", "discover", "playlist", "radio"]),
          track: `t${Math.floor(rand() * 40)}`,
        },
      },
    });
  }
  // At-least-once: a tenth are delivered again, later.
  const stream = [...unique];
  for (const a of unique) if (rand() < 0.1) stream.push({ event: a.event, arrivesAt: a.arrivesAt + Math.floor(rand() * 3 * HOUR) });
  return { unique, stream };
}

/** The object's acceptance at arrival (its clock = arrival time): within lateness, not too far ahead. */
const accepted = (a: Arrival) => a.arrivesAt - a.event.event_timestamp <= LATENESS && a.event.event_timestamp - a.arrivesAt <= MAX_FUTURE;

/** Online at t, as EntityState does it: arrivals up to t in arrival order, deduplicated, future ones held until t reaches them. */
function tilesAt(plan: AggregationPlan, stream: readonly Arrival[], t: number) {
  const seen = new Set<string>();
  const folded: AggregationEvent[] = [];
  for (const a of stream) {
    if (a.arrivesAt > t || !accepted(a) || seen.has(a.event.event_id)) continue;
    seen.add(a.event.event_id);
    if (a.event.event_timestamp <= t) folded.push(a.event);
  }
  return foldIntoTiles(plan, folded);
}

// ---------------------------------------------------------------- brute force, written from the README rule

function inWindow(spec: AggregationSpec, ts: number, t: number): boolean {
  if (ts > t) return false;
  if (spec.window === "lifetime") return true;
  const w = durationMs(spec.window);
  const tile = durationMs(spec.tile as string);
  // [floor(t / T)·T − W + T, t]
  return ts >= Math.floor(t / tile) * tile - w + tile;
}

function durationMs(d: string): number {
  const n = Number(d.slice(0, -1));
  return n * { s: 1_000, m: MIN, h: HOUR, d: DAY }[d.slice(-1) as "s" | "m" | "h" | "d"];
}

function matches(filter: Record<string, unknown> | undefined, fields: Record<string, unknown>): boolean {
  return Object.entries(filter ?? {}).every(([k, v]) => (Array.isArray(v) ? v.includes(fields[k]) : fields[k] === v));
}

function bruteValue(part: Pick<AggregatePart, "function" | "field" | "filter" | "n">, events: AggregationEvent[]): unknown {
  const hits = events.filter((e) => matches(part.filter, e.fields) && (part.field === undefined || e.fields[part.field] != null));
  const xs = hits.map((e) => {
    const v = e.fields[part.field as string];
    return typeof v === "boolean" ? Number(v) : (v as number);
  });
  const micro = xs.reduce((s, x) => s + Math.round(x * SUM_SCALE), 0);
  switch (part.function) {
    case "count":
      return hits.length;
    case "sum":
      return micro / SUM_SCALE;
    case "avg":
      return hits.length ? micro / SUM_SCALE / hits.length : null;
    case "min":
      return hits.length ? Math.min(...xs) : null;
    case "max":
      return hits.length ? Math.max(...xs) : null;
    case "distinct_count":
      return Math.min(new Set(hits.map((e) => JSON.stringify(e.fields[part.field as string]))).size, DISTINCT_EXACT_LIMIT);
    case "last_n":
      return [...hits]
        .sort((a, b) => b.event_timestamp - a.event_timestamp || (a.event_id < b.event_id ? 1 : -1))
        .slice(0, part.n)
        .map((e) => e.fields[part.field as string]);
  }
}

/** Known online at t: some delivery of it arrived by t and was accepted (a refused early delivery may be followed by one that is not). */
function knownAt(stream: readonly Arrival[], t: number): AggregationEvent[] {
  const byId = new Map<string, AggregationEvent>();
  for (const a of stream) if (a.arrivesAt <= t && accepted(a)) byId.set(a.event.event_id, a.event);
  return [...byId.values()];
}

function brute(spec: AggregationSpec, known: readonly AggregationEvent[], t: number): TimedValue | undefined {
  const events = known.filter((e) => inWindow(spec, e.event_timestamp, t));
  if (events.length === 0) return undefined;
  const eventTimestamp = Math.max(...events.map((e) => e.event_timestamp));
  const scoped = events.filter((e) => matches(spec.filter, e.fields));
  if (spec.function !== "ratio") return { eventTimestamp, value: bruteValue(spec as Parameters<typeof bruteValue>[0], scoped) };
  const num = bruteValue(spec.numerator as AggregatePart, scoped) as number | null;
  const den = bruteValue(spec.denominator as AggregatePart, scoped) as number | null;
  return { eventTimestamp, value: num === null || den === null || den === 0 ? null : num / den };
}

// ---------------------------------------------------------------- the comparison

type Rule = (plan: AggregationPlan, tileStart: number, t: number) => boolean;

function queryTimes(seed: number): number[] {
  const rand = mulberry32(seed ^ 0x5eed);
  return Array.from({ length: QUERIES }, (_, i) => {
    const edge = Math.floor((START + rand() * (SPAN + DAY)) / HOUR) * HOUR;
    return i % 3 === 0 ? edge : i % 3 === 1 ? edge + (rand() < 0.5 ? -1 : 1) : Math.floor(START + rand() * (SPAN + DAY));
  });
}

/**
 * How a reader combines the tiles of a sharded entity (`shards` lists, one per shard): the real one
 * hands every shard's tiles to evaluateWindow; tests pass a naive one to show the oracle notices.
 */
type ShardMerge = (shards: Tile[][]) => Tile[];
const concatShards: ShardMerge = (shards) => shards.flat();

function mismatches(seed: number, rule?: Rule, shards = 1, merge: ShardMerge = concatShards): { cells: number; wrong: string[] } {
  const { stream } = history(seed);
  const rand = mulberry32(seed + 1);
  const shuffled = stream
    .map((a) => ({ a, k: rand() }))
    .sort((x, y) => x.a.arrivesAt - y.a.arrivesAt || x.k - y.k)
    .map((x) => x.a);
  // A sharded entity: each shard folds only the arrivals of its events (shardOf(event_id), as foldAll routes them).
  const shardStreams = Array.from({ length: shards }, (_, k) => shuffled.filter((a) => shardOf(a.event.event_id, shards) === k));
  const wrong: string[] = [];
  let cells = 0;
  for (const t of queryTimes(seed)) {
    const known = knownAt(stream, t);
    for (const plan of PLANS) {
      cells++;
      const tiles = shards <= 1 ? tilesAt(plan, shuffled, t) : merge(shardStreams.map((stream) => tilesAt(plan, stream, t)));
      const got = rule ? evaluateWindow(plan, tiles, t, rule) : evaluateWindow(plan, tiles, t);
      const want = brute(plan.spec, known, t);
      if (JSON.stringify(got) !== JSON.stringify(want))
        wrong.push(`${plan.feature} at ${new Date(t).toISOString()}: tiles ${JSON.stringify(got)}, oracle ${JSON.stringify(want)}`);
    }
  }
  return { cells, wrong };
}

describe("aggregation oracle", () => {
  it("tiles agree with brute force over raw events, cell by cell, for three seeded histories", () => {
    for (const seed of [SEED, SEED + 1, SEED + 2]) {
      const { cells, wrong } = mismatches(seed);
      expect(cells).toBe(QUERIES * PLANS.length);
      expect(wrong.slice(0, 5)).toEqual([]);
    }
  });

  it("the histories exercise what they claim: duplicates, too-late and future arrivals, events on tile edges", () => {
    const { unique, stream } = history(SEED);
    expect(stream.length - unique.length).toBeGreaterThan(EVENTS / 20);
    expect(unique.filter((a) => !accepted(a)).length).toBeGreaterThan(EVENTS / 20);
    expect(unique.filter((a) => a.event.event_timestamp > a.arrivesAt).length).toBeGreaterThan(EVENTS / 20);
    expect(unique.filter((a) => a.event.event_timestamp % MIN === 0).length).toBeGreaterThan(EVENTS / 20);
  });

  it("the tiles of an entity sharded over 4 or 3 objects by event_id, merged at read time, agree with brute force", () => {
    for (const [seed, shards] of [
      [SEED, 4],
      [SEED + 1, 3],
    ] as const) {
      const { cells, wrong } = mismatches(seed, undefined, shards);
      expect(cells).toBe(QUERIES * PLANS.length);
      expect(wrong.slice(0, 5)).toEqual([]);
    }
  });

  it("a merge that keeps one tile per start (the last shard's) is caught", () => {
    const lastShardWins: ShardMerge = (shards) => [...new Map(shards.flat().map((tile) => [tile.start, tile])).values()];
    expect(mismatches(SEED, undefined, 4, lastShardWins).wrong.length).toBeGreaterThan(0);
  });

  it("distinct_count above its bound: shards' 1,000 smallest values merged still reach exactly the bound", () => {
    const plan = PLANS.find((p) => p.feature === "distinct_tracks_2h") as AggregationPlan;
    const t = START + HOUR;
    const events: AggregationEvent[] = Array.from({ length: 4_000 }, (_, i) => ({
      event_type: "listening_event",
      event_id: `d-${i}`,
      event_timestamp: t - 1 - (i % 3_000) * 1_000,
      fields: { track: `t${i % 2_500}` },
    }));
    const one = evaluateWindow(plan, foldIntoTiles(plan, events), t);
    const sharded = evaluateWindow(
      plan,
      Array.from({ length: 4 }, (_, k) =>
        foldIntoTiles(
          plan,
          events.filter((e) => shardOf(e.event_id, 4) === k),
        ),
      ).flat(),
      t,
    );
    expect(one?.value).toBe(DISTINCT_EXACT_LIMIT);
    expect(sharded).toEqual(one);
    // Below the bound, exact: 600 distinct values.
    const few = events.map((e, i) => ({ ...e, fields: { track: `t${i % 600}` } }));
    const fewSharded = Array.from({ length: 4 }, (_, k) =>
      foldIntoTiles(
        plan,
        few.filter((e) => shardOf(e.event_id, 4) === k),
      ),
    ).flat();
    expect(evaluateWindow(plan, fewSharded, t)?.value).toBe(600);
  });

  it("a window edge off by one tile edge (start ≥ t − W instead of >) is caught", () => {
    const offByOne: Rule = (p, start, t) => (p.windowMs === null ? start <= t : start >= t - p.windowMs && start <= t);
    expect(mismatches(SEED, offByOne).wrong.length).toBeGreaterThan(0);
  });

  it("counting the partly covered oldest tile (tiles that intersect (t − W, t]) is caught", () => {
    const intersects: Rule = (p, start, t) =>
      p.windowMs === null || p.tileMs === null ? start <= t : start + p.tileMs > t - p.windowMs && start <= t;
    expect(mismatches(SEED, intersects).wrong.length).toBeGreaterThan(0);
  });
});
