// Streaming aggregation semantics, written once: fold events into tiles, evaluate a window over tiles at time t.
//
// The window rule (README "Streaming aggregations"): an aggregate with window W and tile T at time t
// covers the tiles whose start lies in (t − W, t]; an event counts when its tile is one of them and
// its event time is ≤ t. So a window spans [floor(t / T)·T − W + T, t]: the current tile up to t and
// the W/T − 1 whole tiles before it; the oldest, partly covered tile is left out, so no counted event
// is W or more old. A lifetime aggregate counts every event with event time ≤ t. Callers fold only
// events with event time ≤ t (EntityState holds future-stamped events until their time comes).
import {
  type AggregateFunction,
  type AggregatePart,
  type AggregationSpec,
  type EventFilter,
  type FeatureDefinition,
  frequencySeconds,
} from "./definitions";
import type { EventType } from "./event-types";
import { fingerprint64 } from "./hash";
import { type TimedValue, timedValue } from "./keys";

/** An event stamped later than this after its arrival is refused online (reason "future"). */
export const MAX_FUTURE_MS = 60_000;

/** distinct_count is exact up to this many distinct values in a window, and reports this bound above it. */
export const DISTINCT_EXACT_LIMIT = 1_000;
/** Sums add fixed-point micro-units (value rounded to 1e-6), so the order events arrive in never changes a sum. */
export const SUM_SCALE = 1_000_000;

/** An aggregation feature compiled for folding and evaluation (what the caller passes to EntityState). */
export interface AggregationPlan {
  feature: string;
  spec: AggregationSpec;
  /** Names the feature's tiles: changes with anything but the window, so a changed spec starts new tiles. */
  fingerprint: string;
  /** null: lifetime. */
  windowMs: number | null;
  /** null: lifetime (one accumulator, tile start 0). */
  tileMs: number | null;
  /** The source event type's allowed lateness. */
  latenessMs: number;
  /** Durable Objects an entity's tiles of this feature are spread over (1: the entity's own object). */
  shards: number;
}

/** A raw event as folded: the envelope's id, event time (epoch ms) and fields. */
export interface AggregationEvent {
  event_type: string;
  event_id: string;
  event_timestamp: number;
  fields: Record<string, unknown>;
}

/** Partial aggregate of one part (the aggregate, or one side of a ratio) over the events of a tile. */
export interface PartState {
  /** Events that passed the filter (and, for a field, had a value). */
  n: number;
  /** sum / avg: Σ round(value · SUM_SCALE). */
  sum?: number;
  min?: number;
  max?: number;
  /** distinct_count: the smallest DISTINCT_EXACT_LIMIT distinct values (JSON), sorted. */
  distinct?: string[];
  /** last_n: the n newest [event time, event id, value], newest first (ties by greater id). */
  last?: [number, string, unknown][];
}

export interface TileState {
  /** Events of the source type folded into the tile (filtered or not). */
  events: number;
  /** Newest event time among them: the served value's event_timestamp. */
  newest: number;
  parts: PartState[];
}

export interface Tile {
  start: number;
  state: TileState;
}

const durationMs = (d: string) => frequencySeconds(d) * 1000;

/** The plan of an aggregation feature; `eventType` gives the lateness (0 when the event type is unknown). */
export function aggregationPlan(def: FeatureDefinition, eventType: EventType | undefined): AggregationPlan {
  const spec = def.aggregation;
  if (!spec) throw new Error(`${def.name} has no aggregation block`);
  const lifetime = spec.window === "lifetime";
  return {
    feature: def.name,
    spec,
    fingerprint: fingerprint64(JSON.stringify(specKey(spec))),
    windowMs: lifetime ? null : durationMs(spec.window),
    tileMs: lifetime ? null : durationMs(spec.tile ?? spec.window),
    latenessMs: eventType ? durationMs(eventType.allowed_lateness) : 0,
    shards: spec.shards ?? 1,
  };
}

/**
 * The shard (0 … shards − 1) of an event's tiles for a sharded plan: by its event_id, so every redelivery
 * of an event reaches the same object, whose dedup keeps the effect exactly once.
 */
export function shardOf(eventId: string, shards: number): number {
  return shards <= 1 ? 0 : Number.parseInt(fingerprint64(eventId).slice(0, 8), 16) % shards;
}

/** The Durable Object holding shard k of an entity's tiles (`entityObject`: its own object's name, core/keys.ts durableObjectName). */
export function aggregateObjectName(entityObject: string, shards: number, k: number): string {
  return shards <= 1 ? entityObject : `${entityObject}#agg${k}/${shards}`;
}

/** The plan of a registered aggregation feature, or undefined for any other name (`registry`: a CompiledRegistry). */
export function planOf(
  registry: { resolve(name: string): FeatureDefinition | undefined; eventType(name: string): EventType | undefined },
  name: string,
): AggregationPlan | undefined {
  const def = registry.resolve(name);
  if (def?.computation_type !== "aggregation" || !def.aggregation) return undefined;
  return aggregationPlan(def, registry.eventType(def.aggregation.source_event));
}

/** Everything that decides a tile's contents, in a fixed order (filters sorted by field). */
function specKey(spec: AggregationSpec): unknown[] {
  const part = (p: Omit<AggregatePart, "function"> & { function: string }) => [
    p.function,
    p.field ?? null,
    p.n ?? null,
    filterKey(p.filter),
  ];
  const key: unknown[] = [
    spec.source_event,
    spec.tile ?? null,
    part(spec),
    spec.numerator ? part(spec.numerator) : null,
    spec.denominator ? part(spec.denominator) : null,
  ];
  // A new shard count routes events to other objects: new tiles (a backfill fills them). 1 keeps the old fingerprints.
  if ((spec.shards ?? 1) > 1) key.push(["shards", spec.shards]);
  return key;
}

function filterKey(filter: EventFilter | undefined): unknown {
  if (!filter) return null;
  return Object.keys(filter)
    .sort()
    .map((k) => [k, filter[k]]);
}

/** The start of the tile an event time falls in (0 for lifetime). */
export function tileStartOf(plan: AggregationPlan, eventTimestamp: number): number {
  return plan.tileMs === null ? 0 : Math.floor(eventTimestamp / plan.tileMs) * plan.tileMs;
}

/** The window rule: a tile counts at t when its start lies in (t − W, t]. */
export function tileInWindow(plan: AggregationPlan, tileStart: number, t: number): boolean {
  if (plan.windowMs === null) return tileStart <= t;
  return tileStart > t - plan.windowMs && tileStart <= t;
}

/** The oldest tile start a window at t can include (for range queries over stored tiles). */
export function oldestTileStart(plan: AggregationPlan, t: number): number {
  if (plan.windowMs === null || plan.tileMs === null) return 0;
  return Math.floor(t / plan.tileMs) * plan.tileMs - plan.windowMs + plan.tileMs;
}

interface PartRule {
  function: AggregateFunction;
  field: string | undefined;
  filters: EventFilter[];
  n: number | undefined;
}

function partRules(spec: AggregationSpec): PartRule[] {
  const top = spec.filter ? [spec.filter] : [];
  const rule = (p: {
    function: AggregateFunction;
    field?: string | undefined;
    filter?: EventFilter | undefined;
    n?: number | undefined;
  }) => ({
    function: p.function,
    field: p.field,
    filters: p.filter ? [...top, p.filter] : top,
    n: p.n,
  });
  if (spec.function === "ratio") {
    if (!spec.numerator || !spec.denominator) throw new Error("a ratio needs a numerator and a denominator");
    return [rule(spec.numerator), rule(spec.denominator)];
  }
  return [rule({ function: spec.function, field: spec.field, n: spec.n })];
}

function passes(filters: readonly EventFilter[], fields: Record<string, unknown>): boolean {
  for (const filter of filters) {
    for (const [name, want] of Object.entries(filter)) {
      const got = fields[name];
      if (Array.isArray(want) ? !want.includes(got as never) : got !== want) return false;
    }
  }
  return true;
}

/** Booleans count as 0/1; anything else that is not a finite number is skipped. */
function numeric(v: unknown): number | undefined {
  if (typeof v === "boolean") return v ? 1 : 0;
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

const newerFirst = (a: [number, string, unknown], b: [number, string, unknown]) => b[0] - a[0] || (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0);

function insertSorted(list: string[], key: string): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  if (list[lo] === key) return;
  list.splice(lo, 0, key);
  if (list.length > DISTINCT_EXACT_LIMIT) list.pop();
}

function emptyPart(rule: PartRule): PartState {
  switch (rule.function) {
    case "count":
      return { n: 0 };
    case "distinct_count":
      return { n: 0, distinct: [] };
    case "last_n":
      return { n: 0, last: [] };
    default:
      return { n: 0, sum: 0 };
  }
}

function foldPart(rule: PartRule, part: PartState, e: AggregationEvent): void {
  if (!passes(rule.filters, e.fields)) return;
  const raw = rule.field === undefined ? undefined : e.fields[rule.field];
  if (rule.field !== undefined && (raw === undefined || raw === null)) return;
  switch (rule.function) {
    case "count":
      part.n++;
      return;
    case "distinct_count":
      part.n++;
      part.distinct ??= [];
      insertSorted(part.distinct, JSON.stringify(raw));
      return;
    case "last_n": {
      part.n++;
      part.last ??= [];
      const last = part.last;
      last.push([e.event_timestamp, e.event_id, raw]);
      last.sort(newerFirst);
      if (last.length > (rule.n ?? 1)) last.length = rule.n ?? 1;
      return;
    }
    default: {
      const x = numeric(raw);
      if (x === undefined) return;
      part.n++;
      part.sum = (part.sum ?? 0) + Math.round(x * SUM_SCALE);
      part.min = part.min === undefined ? x : Math.min(part.min, x);
      part.max = part.max === undefined ? x : Math.max(part.max, x);
    }
  }
}

/**
 * Folds one event of the plan's source type into its tile's state (`state` is updated in place
 * when given). Folding is commutative: any order of the same events gives the same state. The
 * caller deduplicates event ids.
 */
export function foldEvent(plan: AggregationPlan, state: TileState | undefined, e: AggregationEvent): TileState {
  const rules = partRules(plan.spec);
  const s = state ?? { events: 0, newest: e.event_timestamp, parts: rules.map(emptyPart) };
  s.events++;
  s.newest = Math.max(s.newest, e.event_timestamp);
  rules.forEach((rule, i) => {
    s.parts[i] ??= emptyPart(rule);
    foldPart(rule, s.parts[i] as PartState, e);
  });
  return s;
}

function mergeParts(rule: PartRule, parts: PartState[]): PartState {
  const out = emptyPart(rule);
  const distinct = new Set<string>();
  for (const p of parts) {
    out.n += p.n;
    if (p.sum !== undefined) out.sum = (out.sum ?? 0) + p.sum;
    if (p.min !== undefined) out.min = out.min === undefined ? p.min : Math.min(out.min, p.min);
    if (p.max !== undefined) out.max = out.max === undefined ? p.max : Math.max(out.max, p.max);
    for (const k of p.distinct ?? []) distinct.add(k);
    if (p.last) out.last = [...(out.last ?? []), ...p.last];
  }
  if (rule.function === "distinct_count") out.distinct = [...distinct];
  if (out.last) out.last = out.last.sort(newerFirst).slice(0, rule.n ?? 1);
  return out;
}

function partValue(rule: PartRule, p: PartState): unknown {
  switch (rule.function) {
    case "count":
      return p.n;
    case "sum":
      return (p.sum ?? 0) / SUM_SCALE;
    case "avg":
      return p.n === 0 ? null : (p.sum ?? 0) / SUM_SCALE / p.n;
    case "min":
      return p.min ?? null;
    case "max":
      return p.max ?? null;
    case "distinct_count":
      return Math.min(p.distinct?.length ?? 0, DISTINCT_EXACT_LIMIT);
    case "last_n":
      return (p.last ?? []).map((entry) => entry[2]);
  }
}

/**
 * The aggregate at time t over the tiles the window rule includes (`includes` is the rule; tests
 * pass a mutated one to show the oracle notices). The tiles may come from several shards (the same
 * tile start more than once): merging is the same as for the tiles of a window, so a sharded
 * entity's value equals the one object's (distinct_count too: each shard's tile keeps its 1,000
 * smallest values, so the union reaches the bound exactly when the events have that many). undefined
 * when no event of the source type is in the window; otherwise the value with the newest event time
 * in the window. Empty matches give count/sum/distinct_count 0, avg/min/max null, last_n [], and a
 * ratio over a zero denominator null.
 */
export function evaluateWindow(
  plan: AggregationPlan,
  tiles: Iterable<Tile>,
  t: number,
  includes: (plan: AggregationPlan, tileStart: number, t: number) => boolean = tileInWindow,
): TimedValue | undefined {
  const rules = partRules(plan.spec);
  const inWindow: TileState[] = [];
  let events = 0;
  let newest = Number.NEGATIVE_INFINITY;
  for (const tile of tiles) {
    if (!includes(plan, tile.start, t) || tile.state.events === 0) continue;
    inWindow.push(tile.state);
    events += tile.state.events;
    newest = Math.max(newest, tile.state.newest);
  }
  if (events === 0) return undefined;
  const values = rules.map((rule, i) =>
    partValue(
      rule,
      mergeParts(
        rule,
        inWindow.map((s) => s.parts[i] ?? emptyPart(rule)),
      ),
    ),
  );
  if (plan.spec.function !== "ratio") return timedValue(newest, values[0]);
  const [num, den] = values as [number | null, number | null];
  return timedValue(newest, num === null || den === null || den === 0 ? null : num / den);
}

export type RefusalReason = "too_late" | "future";

/**
 * The online admission rule, shared by EntityState and training sets: an event arriving at `arrivedAt`
 * (the object's clock) is refused as too late when its event time is older than the allowed lateness,
 * and as future when it is stamped more than MAX_FUTURE_MS ahead; otherwise it counts once its event
 * time is reached (an early one is held until then).
 */
export function admission(latenessMs: number, eventTimestamp: number, arrivedAt: number): RefusalReason | undefined {
  if (eventTimestamp < arrivedAt - latenessMs) return "too_late";
  if (eventTimestamp > arrivedAt + MAX_FUTURE_MS) return "future";
  return undefined;
}

/** An event as the offline store has it: when it first arrived, besides its own time. */
export interface ArrivedEvent extends AggregationEvent {
  /** Epoch ms the event (its first copy) was received. */
  arrived_at: number;
}

/**
 * The aggregate at t as EntityState served it then, from the offline events of one entity (each event id
 * once, with its first arrival): events that had arrived by t, were admitted on arrival, and whose event
 * time is ≤ t, folded and evaluated with the window rule. Training sets use it for every cell.
 */
export function aggregateAsOf(
  plan: AggregationPlan,
  events: Iterable<ArrivedEvent>,
  t: number,
  includes: (plan: AggregationPlan, tileStart: number, t: number) => boolean = tileInWindow,
): TimedValue | undefined {
  const seen: AggregationEvent[] = [];
  for (const e of events) {
    // Older events fall in tiles the window rule leaves out; `includes` decides (tests pass a mutated one).
    if (e.arrived_at > t || e.event_timestamp > t) continue;
    if (admission(plan.latenessMs, e.event_timestamp, e.arrived_at)) continue;
    seen.push(e);
  }
  return evaluateWindow(plan, foldIntoTiles(plan, seen), t, includes);
}

/** Folds events (event time ≤ t, ids unique) into tiles: the reference path of tests and training sets. */
export function foldIntoTiles(plan: AggregationPlan, events: Iterable<AggregationEvent>): Tile[] {
  const tiles = new Map<number, TileState>();
  for (const e of events) {
    if (e.event_type !== plan.spec.source_event) continue;
    const start = tileStartOf(plan, e.event_timestamp);
    tiles.set(start, foldEvent(plan, tiles.get(start), e));
  }
  return [...tiles].map(([start, state]) => ({ start, state }));
}
