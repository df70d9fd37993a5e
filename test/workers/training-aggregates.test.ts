// Serving vs training vs oracle for the catalog's aggregation features, inside workerd with the real Postgres: seeded
// histories with duplicates, out-of-order, late, too-late and early events are folded into the entity's Durable Object
// at their arrival times (controllable clock); at each checkpoint t the value the object serves, the value
// POST /datasets/training computes from raw_events, and a brute-force oracle over the raw events must agree cell by
// cell. A mutated window boundary must make the comparison fail (the test can fail).
import { beforeAll, describe, expect, it } from "vitest";
import {
  type AggregationEvent,
  type AggregationPlan,
  type ArrivedEvent,
  aggregateAsOf,
  MAX_FUTURE_MS,
  planOf,
} from "../../src/core/aggregation";
import type { AggregatePart, EventFilter, FeatureDefinition } from "../../src/core/definitions";
import type { TimedValue } from "../../src/core/keys";
import { mulberry32 } from "../../src/core/random";
import { entityStub, post, publishRegistry, registry, sql, uniqueId } from "./support";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Copies arriving within one such slot are folded in one call, at the slot's end (the batch's clock). */
const BATCH_MS = 10_000;
const FEATURES = ["skip_rate_7d", "replay_rate_7d", "recent_listening_diversity", "playlist_creation_rate", "tracks_played_1h", "skips_1h"];
const USERS = 3;
const EVENTS_PER_USER = 400;
const CHECKPOINTS_PER_USER = 40;
const GENRES = ["pop", "rock", "jazz", "folk", "metal", "k_pop"];
const SOURCES = ["home", "search", "discover", "playlist"];
const ACTIONS = ["playlist_created", "shared", "liked"];
/** Events span 12 days; checkpoints lie in the last 3, so every 7-day window (and its oldest tile) is inside the history. */
const END = Date.UTC(2026, 10, 20, 12);
const START = END - 12 * DAY;

interface Copy {
  event: AggregationEvent & { entities: Record<string, string> };
  /** The batch clock the copy is folded at. */
  arrivedAt: number;
}

/** One user's history: events with their delivered copies (duplicates, delays, too-late and early ones). */
function history(user: string, seed: number): { copies: Copy[]; checkpoints: number[] } {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
  const copies: Copy[] = [];
  for (let i = 0; i < EVENTS_PER_USER; i++) {
    // A share of events sits on or just beside an hour or minute boundary, where off-by-one windows differ.
    let ts = Math.floor(START + random() * (END - START));
    if (random() < 0.3) ts = Math.floor(ts / HOUR) * HOUR + pick([-1, 0, 1]);
    const action = random() < 0.15;
    const entities: Record<string, string> = action
      ? { user_id: user }
      : { user_id: user, track_id: `track_o${i % 17}`, artist_id: "artist_o1", session_id: `session_o${user}` };
    const event: Copy["event"] = {
      event_type: action ? "user_action" : "listening_event",
      event_id: `${user}-e${i}`,
      event_timestamp: ts,
      entities,
      fields: action
        ? { action: pick(ACTIONS) }
        : {
            seconds_played: Math.round(random() * 3000) / 10,
            skipped: random() < 0.3,
            replayed: random() < 0.1,
            source: pick(SOURCES),
            device_type: "mobile",
            ...(random() < 0.8 ? { genre: pick(GENRES) } : {}),
          },
    };
    const r = random();
    // Delay: on time, late within the hour's lateness, too late, or early (held until its time).
    const delay =
      r < 0.65 ? random() * 30_000 : r < 0.82 ? random() * 55 * MIN : r < 0.92 ? HOUR + random() * 3 * HOUR : -random() * 50_000;
    copies.push({ event, arrivedAt: Math.ceil((ts + delay) / BATCH_MS) * BATCH_MS });
    if (random() < 0.12) copies.push({ event, arrivedAt: Math.ceil((ts + delay + random() * 2 * HOUR) / BATCH_MS) * BATCH_MS });
  }
  const checkpoints: number[] = [];
  for (let i = 0; i < CHECKPOINTS_PER_USER; i++) {
    let t = Math.floor(END - 3 * DAY + random() * 3 * DAY);
    if (i % 3 === 0) t = Math.floor(t / HOUR) * HOUR + pick([-1, 0, 1, MIN]);
    checkpoints.push(t);
  }
  return { copies, checkpoints: checkpoints.sort((a, b) => a - b) };
}

// ----------------------------------------------------------------- the oracle: plain TypeScript over raw events

function matches(filter: EventFilter | undefined, fields: Record<string, unknown>): boolean {
  return Object.entries(filter ?? {}).every(([k, want]) => (Array.isArray(want) ? want.includes(fields[k] as never) : fields[k] === want));
}

function partValue(
  p: Pick<AggregatePart, "function" | "field" | "filter">,
  top: EventFilter | undefined,
  events: AggregationEvent[],
): number | null {
  const xs = events.filter((e) => matches(top, e.fields) && matches(p.filter, e.fields));
  const vals =
    p.field === undefined ? xs.map(() => 1) : xs.map((e) => e.fields[p.field as string]).filter((v) => v !== undefined && v !== null);
  switch (p.function) {
    case "count":
      return p.field === undefined ? xs.length : vals.length;
    case "sum":
      return vals.reduce<number>((a, v) => a + Number(v), 0);
    case "distinct_count":
      return new Set(vals.map((v) => JSON.stringify(v))).size;
    default:
      throw new Error(`oracle has no ${p.function}`);
  }
}

/**
 * What the object should serve at t: the first copy of each event id decides; a copy is admitted when its
 * event time is within the lateness before its arrival and at most MAX_FUTURE_MS after it; it counts at t
 * once it arrived and its time is reached, inside the window's tiles (t − W, t] by tile start.
 */
function oracle(def: FeatureDefinition, latenessMs: number, copies: readonly Copy[], t: number, partialOldestTile = false): unknown {
  const spec = def.aggregation!;
  const windowMs = Number.parseInt(spec.window, 10) * (spec.window.endsWith("d") ? DAY : HOUR);
  const tileMs = spec.tile?.endsWith("h") ? HOUR : MIN;
  const first = new Map<string, Copy>();
  for (const c of [...copies].sort((a, b) => a.arrivedAt - b.arrivedAt)) if (!first.has(c.event.event_id)) first.set(c.event.event_id, c);
  const from = Math.floor(t / tileMs) * tileMs - windowMs + (partialOldestTile ? 0 : tileMs);
  const inWindow = [...first.values()]
    .filter((c) => c.event.event_type === spec.source_event && c.arrivedAt <= t)
    .filter((c) => c.event.event_timestamp >= c.arrivedAt - latenessMs && c.event.event_timestamp <= c.arrivedAt + MAX_FUTURE_MS)
    .map((c) => c.event)
    .filter((e) => e.event_timestamp <= t && e.event_timestamp >= from);
  let value: unknown;
  if (inWindow.length === 0) value = undefined;
  else if (spec.function === "ratio") {
    const num = partValue(spec.numerator!, spec.filter, inWindow);
    const den = partValue(spec.denominator!, spec.filter, inWindow);
    value = num === null || den === null || den === 0 ? null : num / den;
  } else
    value = partValue(
      { function: spec.function as AggregatePart["function"], field: spec.field, filter: undefined },
      spec.filter,
      inWindow,
    );
  return value === undefined ? (def.null_policy === "default" ? def.default_value : null) : value;
}

// ----------------------------------------------------------------- the run

interface Cell {
  user: string;
  t: number;
  feature: string;
  served: unknown;
  trained: unknown;
  oracle: unknown;
  mutatedOracle: unknown;
  mutatedCore: unknown;
}

const close = (a: unknown, b: unknown) =>
  typeof a === "number" && typeof b === "number" ? Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)) : a === b;

let cells: Cell[] = [];

beforeAll(async () => {
  await publishRegistry();
  const reg = registry();
  const defs = FEATURES.map((f) => reg.resolve(f)!);
  const plans = FEATURES.map((f) => planOf(reg, f)).filter((p): p is AggregationPlan => p !== undefined);
  expect(plans).toHaveLength(FEATURES.length);
  const withDefault = (def: FeatureDefinition, v: unknown) =>
    v === undefined || v === null ? (def.null_policy === "default" ? def.default_value : null) : v;
  const spine: { user_id: string; event_timestamp: string }[] = [];
  const expected: Omit<Cell, "trained">[] = [];
  for (let u = 0; u < USERS; u++) {
    const user = uniqueId(`user_oracle${u}_`);
    const { copies, checkpoints } = history(user, 100 + u);
    // The offline store: each event id once, with its first arrival (as POST /ingest/events appends it).
    const firsts = new Map<string, Copy>();
    for (const c of [...copies].sort((a, b) => a.arrivedAt - b.arrivedAt))
      if (!firsts.has(c.event.event_id)) firsts.set(c.event.event_id, c);
    const rows = [...firsts.values()];
    await sql(
      `insert into raw_events (event_id, event_type, event_timestamp, entities, fields, received_at)
       select id, type, to_timestamp(ms / 1000.0), entities::jsonb, fields::jsonb, to_timestamp(arrived / 1000.0)
         from unnest($1::text[], $2::text[], $3::double precision[], $4::text[], $5::text[], $6::double precision[])
           as e(id, type, ms, entities, fields, arrived)`,
      [
        rows.map((c) => c.event.event_id),
        rows.map((c) => c.event.event_type),
        rows.map((c) => c.event.event_timestamp),
        rows.map((c) => JSON.stringify(c.event.entities)),
        rows.map((c) => JSON.stringify(c.event.fields)),
        rows.map((c) => c.arrivedAt),
      ],
    );
    // The online side: batches folded at their arrival clock, checkpoints read in between, in time order.
    const stub = entityStub("user", user);
    const byArrival = new Map<number, AggregationEvent[]>();
    for (const c of copies) {
      const { entities: _entities, ...event } = c.event;
      byArrival.set(c.arrivedAt, [...(byArrival.get(c.arrivedAt) ?? []), event]);
    }
    const arrivals = [...byArrival.keys()].sort((a, b) => a - b);
    let next = 0;
    for (const t of checkpoints) {
      while (next < arrivals.length && (arrivals[next] as number) <= t) {
        const at = arrivals[next++] as number;
        await stub.foldEvents(byArrival.get(at) as AggregationEvent[], plans, at);
      }
      const served = (await stub.getAggregates(plans, t)) as Record<string, TimedValue>;
      spine.push({ user_id: user, event_timestamp: new Date(t).toISOString() });
      const arrived: ArrivedEvent[] = rows.map((c) => ({ ...c.event, arrived_at: c.arrivedAt }));
      defs.forEach((def, i) => {
        const plan = plans[i] as AggregationPlan;
        const mutated = aggregateAsOf(plan, arrived, t, (p, start, at) => start > at - (p.windowMs ?? 0) - (p.tileMs ?? 0) && start <= at);
        expected.push({
          user,
          t,
          feature: def.name,
          served: withDefault(def, served[def.name]?.value),
          oracle: oracle(def, plan.latenessMs, copies, t),
          mutatedOracle: oracle(def, plan.latenessMs, copies, t, true),
          mutatedCore: withDefault(def, mutated?.value),
        });
      });
    }
  }
  const res = await post("/datasets/training", { features: FEATURES, format: "jsonl", spine });
  expect(res.status, await res.clone().text()).toBe(200);
  const lines = new TextDecoder()
    .decode(await res.arrayBuffer())
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines).toHaveLength(spine.length);
  cells = expected.map((e, i) => ({ ...e, trained: lines[Math.floor(i / FEATURES.length)]?.[e.feature] }));
}, 120_000);

describe("aggregation features: serving, training set and oracle agree", () => {
  it("cell by cell on seeded histories with duplicates, out-of-order, late, too-late and early events: 0 mismatches", () => {
    expect(cells).toHaveLength(USERS * CHECKPOINTS_PER_USER * FEATURES.length);
    const mismatches = cells.filter((c) => !close(c.served, c.oracle) || !close(c.trained, c.oracle));
    expect(mismatches.slice(0, 5)).toEqual([]);
    // The histories are not trivial: most cells have data, and the windows moved.
    const withData = cells.filter((c) => typeof c.oracle === "number" && c.oracle !== 0);
    expect(withData.length).toBeGreaterThan(cells.length / 2);
    expect(new Set(cells.filter((c) => c.feature === "skip_rate_7d").map((c) => c.oracle)).size).toBeGreaterThan(10);
  });

  it("notices a window that also counts the partly covered oldest tile (in the oracle or in the core)", () => {
    expect(cells.filter((c) => !close(c.trained, c.mutatedOracle)).length).toBeGreaterThan(0);
    expect(cells.filter((c) => !close(c.mutatedCore, c.oracle)).length).toBeGreaterThan(0);
  });
});
