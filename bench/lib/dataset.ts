// The synthetic bench catalog: a registry of 50-feature vectors per entity type, deterministic values and Zipf ranks.

import type { FeatureDefinitionInput } from "../../src/core/definitions";
import { kvEntityKey } from "../../src/core/keys";
import { mulberry32 as prng } from "../../src/core/random";
import { RegistrySnapshot } from "../../src/core/registry";
import type { BenchConfig } from "./config";

export { prng };

export type BenchEntityType = "user" | "track" | "artist";

/** Feature name prefixes: user batch (ub_), user stream (us_), track batch (tb_), artist batch (ab_). */
export const VECTORS = {
  userBatch: { entityType: "user", prefix: "ub", group: "bench_user_batch", computation: "batch" },
  userStream: { entityType: "user", prefix: "us", group: "bench_user_stream", computation: "stream" },
  trackBatch: { entityType: "track", prefix: "tb", group: "bench_track_batch", computation: "batch" },
  artistBatch: { entityType: "artist", prefix: "ab", group: "bench_artist_batch", computation: "batch" },
} as const;
export type VectorName = keyof typeof VECTORS;

export const BATCH_VECTOR_OF: Record<BenchEntityType, VectorName> = { user: "userBatch", track: "trackBatch", artist: "artistBatch" };

const CATEGORIES = ["low", "mid", "high", "top"] as const;
const GENRES = ["rock", "pop", "jazz", "hiphop", "electronic", "classical"] as const;
/** Batch features may be a week old, stream features a day: the loaded event times are at most an hour old. */
const BATCH_TTL_SECONDS = 7 * 86_400;
const STREAM_TTL_SECONDS = 86_400;
/** Event times of loaded values are spread over the hour before the load. */
export const EVENT_AGE_SPREAD_S = 3_600;

export function featureNames(vector: VectorName, count: number): string[] {
  const { prefix } = VECTORS[vector];
  return Array.from({ length: count }, (_, f) => `${prefix}_${String(f).padStart(2, "0")}`);
}

type Kind = "float" | "int" | "categorical" | "array";

/** Realistic value types: mostly floats, every tenth an integer count or a categorical, one array of genres. */
export function featureKind(f: number): Kind {
  if (f === 48) return "array";
  if (f % 10 === 9) return "categorical";
  if (f % 10 === 4) return "int";
  return "float";
}

/** Deterministic value of feature f of entity number e (1-based); the SQL loader computes the same. */
export function featureValue(e: number, f: number): unknown {
  switch (featureKind(f)) {
    case "array":
      return [GENRES[e % 6], GENRES[(e + 1) % 6], GENRES[(e + 2) % 6]];
    case "categorical":
      return CATEGORIES[(e + f) % 4];
    case "int":
      return (e * 7 + f * 13) % 1000;
    case "float":
      return ((e * 31 + f * 17) % 10007) / 100;
  }
}

/** The same values as featureValue, as a SQL jsonb expression over columns e and f. */
export function featureValueSql(e: string, f: string): string {
  const cats = `array[${CATEGORIES.map((c) => `'${c}'`).join(",")}]`;
  const genres = `array[${GENRES.map((g) => `'${g}'`).join(",")}]`;
  return `case when ${f} = 48 then jsonb_build_array((${genres})[1 + ${e} % 6], (${genres})[1 + (${e} + 1) % 6], (${genres})[1 + (${e} + 2) % 6])
               when ${f} % 10 = 9 then to_jsonb((${cats})[1 + (${e} + ${f}) % 4])
               when ${f} % 10 = 4 then to_jsonb((${e} * 7 + ${f} * 13) % 1000)
               else to_jsonb(round(((${e} * 31 + ${f} * 17) % 10007) / 100.0, 2)) end`;
}

/** An entity of a load: its id, the number its values derive from, and which vector it gets. */
export interface LoadEntity {
  type: string;
  id: string;
  n: number;
  vector: VectorName;
}

export function vectorValues(vector: VectorName, n: number, count: number): { name: string; value: unknown }[] {
  return featureNames(vector, count).map((name, f) => ({ name, value: featureValue(n, f) }));
}

/** An entity's Workers KV row as the serving Worker reads it (src/stores/kv-store.ts): key and JSON. */
export function kvRow(e: LoadEntity, featuresPerVector: number, loadedAt: number): [string, string] {
  const ts = eventTimestamp(loadedAt, e.n);
  const row: Record<string, [number, unknown]> = {};
  for (const { name, value } of vectorValues(e.vector, e.n, featuresPerVector)) row[name] = [ts, value];
  return [kvEntityKey(e.type, e.id), JSON.stringify(row)];
}

/** Event time of entity e's values: within the hour before `loadedAt`. */
export function eventTimestamp(loadedAt: number, e: number): number {
  return loadedAt - (e % EVENT_AGE_SPREAD_S) * 1000;
}

function definition(vector: VectorName, f: number, name: string): FeatureDefinitionInput {
  const v = VECTORS[vector];
  const kind = featureKind(f);
  const base: FeatureDefinitionInput = {
    name,
    group: v.group,
    entity_type: v.entityType,
    feature_type: kind === "float" || kind === "int" ? "numerical" : kind,
    computation_type: v.computation,
    update_frequency: v.computation === "batch" ? "1d" : "realtime",
    retention_days: 30,
    ttl_seconds: v.computation === "batch" ? BATCH_TTL_SECONDS : STREAM_TTL_SECONDS,
    description: `Bench ${v.computation} feature ${f} of ${v.entityType} (${kind})`,
    owner: "bench",
    tags: ["bench"],
    null_policy: "allow",
  };
  if (v.computation === "batch") base.source_query = `select entity_id, ${name} from bench_source_${v.entityType}`;
  if (kind === "categorical") base.allowed_values = [...CATEGORIES];
  if (kind === "array") base.item_type = "string";
  if (kind === "int") base.min_value = 0;
  return base;
}

// ------------------------------------------------------------------ raw events and aggregation features (bench/scenarios/stream.ts)

/** The bench's one event type: a play, carrying the user and the track (both have aggregation features). */
export const BENCH_EVENT_TYPE = "bench_play";
export const BENCH_SOURCES = ["home", "search", "discover"] as const;
export const BENCH_GENRES = GENRES;
/**
 * A week of lateness, so aggregate-read can load a week of history through POST /ingest/events (a shorter
 * one would refuse it as too late); it costs one (event id, spec) row per event and feature for a week.
 */
const BENCH_EVENT_LATENESS = "7d";

const benchEventType = {
  name: BENCH_EVENT_TYPE,
  description: "Bench play of a track by a user",
  entity_keys: ["user_id", "track_id"],
  allowed_lateness: BENCH_EVENT_LATENESS,
  fields: {
    seconds_played: { type: "number" },
    skipped: { type: "boolean" },
    source: { type: "string", allowed_values: [...BENCH_SOURCES] },
    genre: { type: "string", allowed_values: [...GENRES] },
  },
};

type Agg = { name: string; spec: Record<string, unknown> };
/** The user's 10 aggregation features (aggregate-read reads all of them): 7d in 1h tiles and 1h in 1m tiles, every function. */
export const USER_AGGREGATES: Agg[] = [
  { name: "ua_plays_1h", spec: { function: "count", window: "1h", tile: "1m" } },
  { name: "ua_skips_1h", spec: { function: "sum", field: "skipped", window: "1h", tile: "1m" } },
  {
    name: "ua_skip_rate_7d",
    spec: {
      function: "ratio",
      numerator: { function: "sum", field: "skipped" },
      denominator: { function: "count" },
      window: "7d",
      tile: "1h",
    },
  },
  { name: "ua_avg_seconds_7d", spec: { function: "avg", field: "seconds_played", window: "7d", tile: "1h" } },
  { name: "ua_max_seconds_7d", spec: { function: "max", field: "seconds_played", window: "7d", tile: "1h" } },
  { name: "ua_min_seconds_1h", spec: { function: "min", field: "seconds_played", window: "1h", tile: "1m" } },
  { name: "ua_genres_7d", spec: { function: "distinct_count", field: "genre", window: "7d", tile: "1h" } },
  { name: "ua_discover_plays_7d", spec: { function: "count", filter: { source: "discover" }, window: "7d", tile: "1h" } },
  { name: "ua_seconds_7d", spec: { function: "sum", field: "seconds_played", window: "7d", tile: "1h" } },
  { name: "ua_last_genres_1h", spec: { function: "last_n", field: "genre", n: 5, window: "1h", tile: "1m" } },
];
/** The track's trending count (stream-ingest sums it over every track to check that no event was lost). */
export const TRACK_PLAYS_1H = "ta_plays_1h";
const TRACK_AGGREGATES: Agg[] = [{ name: TRACK_PLAYS_1H, spec: { function: "count", window: "1h", tile: "1m" } }];

function aggregationDefinition(entityType: "user" | "track", a: Agg): FeatureDefinitionInput {
  return {
    name: a.name,
    group: `bench_${entityType}_aggregates`,
    entity_type: entityType,
    feature_type: a.spec.function === "last_n" ? "array" : "numerical",
    ...(a.spec.function === "last_n" ? { item_type: "string" as const } : {}),
    computation_type: "aggregation",
    update_frequency: "realtime",
    retention_days: 30,
    ttl_seconds: 7 * 86_400,
    description: `Bench aggregation ${a.spec.function} of ${BENCH_EVENT_TYPE}`,
    owner: "bench",
    tags: ["bench"],
    null_policy: "allow",
    aggregation: { source_event: BENCH_EVENT_TYPE, ...a.spec },
  } as FeatureDefinitionInput;
}

/** A registry snapshot with the four 50-feature vectors, validated by the same schema the Workers use. */
export function benchRegistry(featuresPerVector: number): RegistrySnapshot {
  const features = (Object.keys(VECTORS) as VectorName[]).flatMap((vector) =>
    featureNames(vector, featuresPerVector).map((name, f) => definition(vector, f, name)),
  );
  return RegistrySnapshot.parse({
    version: `r-bench-${featuresPerVector}f`,
    version_number: 1,
    applied_at: new Date().toISOString(),
    author: "bench",
    entities: [
      { name: "user", join_key: "user_id", description: "Bench listener", id_prefix: "user_" },
      { name: "track", join_key: "track_id", description: "Bench track", id_prefix: "track_" },
      { name: "artist", join_key: "artist_id", description: "Bench artist", id_prefix: "artist_" },
    ],
    features: [
      ...features,
      ...USER_AGGREGATES.map((a) => aggregationDefinition("user", a)),
      ...TRACK_AGGREGATES.map((a) => aggregationDefinition("track", a)),
    ],
    event_types: [benchEventType],
  });
}

// ------------------------------------------------------------------ universe, ranks, Zipf

export interface UniverseEntity {
  type: BenchEntityType;
  /** 1-based number within its type: the id is `${type}_${n}`. */
  n: number;
  id: string;
}

/** Maps popularity rank (1 = hottest) to an entity, interleaving types, deterministically. */
export class Universe {
  readonly size: number;
  private readonly stride: number;
  constructor(private readonly counts: BenchConfig["entities"]) {
    this.size = counts.user + counts.track + counts.artist;
    // A stride coprime with the size turns rank order into a fixed permutation of entity slots.
    let stride = 1_000_003;
    while (gcd(stride, this.size) !== 1) stride += 2;
    this.stride = stride;
  }

  byRank(rank: number): UniverseEntity {
    const slot = ((rank - 1) * this.stride + 7) % this.size;
    return this.bySlot(slot);
  }

  bySlot(slot: number): UniverseEntity {
    const { user, track } = this.counts;
    if (slot < user) return { type: "user", n: slot + 1, id: `user_${slot + 1}` };
    if (slot < user + track) return { type: "track", n: slot - user + 1, id: `track_${slot - user + 1}` };
    return { type: "artist", n: slot - user - track + 1, id: `artist_${slot - user - track + 1}` };
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Zipf(s) over ranks 1..n by inverse CDF (binary search over a precomputed table). */
export class ZipfSampler {
  private readonly cdf: Float64Array;
  constructor(
    readonly n: number,
    readonly s: number,
    private readonly random: () => number,
  ) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 1; r <= n; r++) {
      sum += 1 / r ** s;
      this.cdf[r - 1] = sum;
    }
    for (let i = 0; i < n; i++) this.cdf[i] = this.cdf[i]! / sum;
  }

  /** Share of draws that fall on ranks 1..k. */
  headShare(k: number): number {
    return k <= 0 ? 0 : this.cdf[Math.min(k, this.n) - 1]!;
  }

  next(): number {
    const u = this.random();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }
}
