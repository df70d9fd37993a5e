// Feature definitions: the zod schema that is the single source of the registry's types.
import { z } from "zod";

export const ENTITY_TYPES = ["user", "track", "artist", "session"] as const;
export const EntityTypeName = z.enum(ENTITY_TYPES);
export type EntityTypeName = z.infer<typeof EntityTypeName>;

export const FeatureType = z.enum(["numerical", "categorical", "array", "embedding"]);
export type FeatureType = z.infer<typeof FeatureType>;

/** `aggregation`: computed at request time from raw events (the entity's tiles), never pushed. */
export const ComputationType = z.enum(["batch", "stream", "on_demand", "aggregation"]);
export type ComputationType = z.infer<typeof ComputationType>;

export const NullPolicy = z.enum(["allow", "reject", "default"]);
export type NullPolicy = z.infer<typeof NullPolicy>;

/** "realtime" or a duration such as "15m", "1h", "1d". */
export const UpdateFrequency = z.string().regex(/^(realtime|\d+[smhd])$/, 'must be "realtime" or a duration like "30m", "1h", "1d"');

const SNAKE = /^[a-z][a-z0-9_]*$/;
export const FeatureName = z.string().regex(SNAKE, "must be snake_case (a-z, 0-9, _)").max(128);

const DURATION = /^\d+[smhd]$/;
const Duration = z.string().regex(DURATION, 'must be a duration like "1m", "1h", "7d"');

/** Functions over the events of a window; `ratio` divides two of them (skip rate = sum(skipped) / count). */
export const AGGREGATE_FUNCTIONS = ["count", "sum", "avg", "min", "max", "distinct_count", "last_n"] as const;
export const AggregateFunction = z.enum(AGGREGATE_FUNCTIONS);
export type AggregateFunction = z.infer<typeof AggregateFunction>;
/** last_n keeps at most this many values (per tile and per window). */
export const LAST_N_MAX = 100;

const FilterScalar = z.union([z.string(), z.number(), z.boolean()]);
/** Event field = value (or one of values); several fields are ANDed: `{ source: discover }`. */
export const EventFilter = z.record(z.string(), z.union([FilterScalar, z.array(FilterScalar).min(1)]));
export type EventFilter = z.infer<typeof EventFilter>;

const aggregateShape = {
  field: z.string().optional(),
  filter: EventFilter.optional(),
  /** last_n: how many of the newest values. */
  n: z.number().int().min(1).max(LAST_N_MAX).optional(),
};

/** An aggregation's tiles of one entity spread over at most this many Durable Objects (one read fans out to all). */
export const MAX_AGGREGATE_SHARDS = 16;

/** One side of a ratio. */
export const AggregatePart = z.object({ function: AggregateFunction, ...aggregateShape }).strict();
export type AggregatePart = z.infer<typeof AggregatePart>;

/**
 * Aggregation of raw events (src/core/aggregation.ts has the semantics). For `computation_type:
 * aggregation` it is computed at request time from per-entity tiles; on other stream features it
 * is metadata only (what the outside stream processor computes).
 */
export const AggregationSpec = z
  .object({
    function: z.enum([...AGGREGATE_FUNCTIONS, "ratio"]),
    source_event: z.string().min(1),
    /** A sliding window ending at request time ("1h", "7d"), or "lifetime". */
    window: z.union([Duration, z.literal("lifetime")]),
    /** Tile size of a sliding window ("1m", "1h"): the window is a whole number of tiles. */
    tile: Duration.optional(),
    ...aggregateShape,
    numerator: AggregatePart.optional(),
    denominator: AggregatePart.optional(),
    /**
     * Hot entities: the entity's tiles of this feature are spread over this many Durable Objects (by
     * event_id hash) and merged at read time (README "Streaming aggregations": hot entities). Default 1.
     */
    shards: z.number().int().min(1).max(MAX_AGGREGATE_SHARDS).optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (a.function === "ratio") {
      if (!a.numerator) issue("numerator", "a ratio needs a numerator");
      if (!a.denominator) issue("denominator", "a ratio needs a denominator");
      if (a.field !== undefined || a.n !== undefined) issue("field", "a ratio takes field and n in its numerator and denominator");
      for (const side of ["numerator", "denominator"] as const) {
        const part = a[side];
        if (part) for (const m of partIssues(part)) issue(side, m);
        if (part?.function === "last_n") issue(side, "a ratio divides numbers: last_n cannot be one of its sides");
      }
    } else {
      if (a.numerator || a.denominator) issue("numerator", "numerator and denominator belong to function ratio");
      for (const m of partIssues({ function: a.function, field: a.field, n: a.n })) issue("field", m);
    }
    if (a.window === "lifetime") {
      if (a.tile !== undefined) issue("tile", "a lifetime aggregate has no tiles (one accumulator)");
    } else if (a.tile !== undefined) {
      const w = frequencySeconds(a.window);
      const t = frequencySeconds(a.tile);
      if (t === 0 || w % t !== 0) issue("tile", `window ${a.window} is not a whole number of ${a.tile} tiles`);
      else if (w / t > MAX_TILES_PER_WINDOW)
        issue("tile", `window ${a.window} has ${w / t} tiles of ${a.tile}; at most ${MAX_TILES_PER_WINDOW}`);
    }
  });
export type AggregationSpec = z.infer<typeof AggregationSpec>;

/** Bounds the tiles a window reads and the storage per entity (README "Streaming aggregations"). */
export const MAX_TILES_PER_WINDOW = 10_080;

function partIssues(p: { function: AggregateFunction; field?: string | undefined; n?: number | undefined }): string[] {
  const out: string[] = [];
  if (p.function !== "count" && p.field === undefined) out.push(`${p.function} needs a field`);
  if (p.function === "last_n" && p.n === undefined) out.push("last_n needs n");
  if (p.function !== "last_n" && p.n !== undefined) out.push("n applies to last_n only");
  return out;
}

/** The name of a registered TypeScript transform (src/core/transforms.ts) and its inputs. */
export const TransformRef = z.object({
  name: z.string().min(1),
  /** Context keys (`context.<key>`) or stored feature references (`feature:<name>` / `group:name`). */
  inputs: z.array(z.string().min(1)).default([]),
});
export type TransformRef = z.infer<typeof TransformRef>;

/**
 * Drift monitoring of one feature (README "Monitoring"): the current window is compared with a
 * reference, either the same length of time `offset` earlier or a pinned snapshot
 * (`npm run drift -- snapshot`). Unset thresholds take the defaults of src/core/drift-detector.ts.
 */
export const DriftSettings = z
  .object({
    enabled: z.boolean().optional(),
    /** Drift when PSI is above this (default 0.2). */
    psi_threshold: z.number().positive().optional(),
    /** Drift when the KS test's p-value is below this (numerical; default 0.01). */
    ks_p_value: z.number().gt(0).lt(1).optional(),
    /** Drift when the chi-square test's p-value is below this (categorical and array; default 0.01). */
    chi2_p_value: z.number().gt(0).lt(1).optional(),
    /** Drift when the share of nulls changed with a p-value below this (default 0.01). */
    null_p_value: z.number().gt(0).lt(1).optional(),
    /** The current window, ending now (default 1d). */
    window: Duration.optional(),
    reference: z
      .union([
        z.object({ offset: Duration }).strict().meta({ description: "The window of the same length, this much earlier" }),
        z.object({ snapshot: FeatureName }).strict().meta({ description: "A pinned reference (npm run drift -- snapshot)" }),
      ])
      .optional(),
    /** Fewer values than this in either window: no verdict (default 200). */
    min_samples: z.number().int().positive().optional(),
  })
  .strict();
export type DriftSettings = z.infer<typeof DriftSettings>;

export const Lineage = z.object({
  tables: z.array(z.string()).default([]),
  features: z.array(z.string()).default([]),
});

export const FeatureDefinition = z
  .object({
    name: FeatureName,
    group: FeatureName,
    entity_type: EntityTypeName,
    feature_type: FeatureType,
    /** Element type of arrays; embeddings are always numbers. */
    item_type: z.enum(["string", "number"]).optional(),
    dimension: z.number().int().positive().optional(),
    computation_type: ComputationType,
    source_query: z.string().optional(),
    update_frequency: UpdateFrequency,
    retention_days: z.number().int().positive(),
    /** Max age for serving, seconds: an older value is never served as PRESENT. */
    ttl_seconds: z.number().int().positive(),
    description: z.string().min(1),
    owner: z.string().min(1),
    tags: z.array(z.string()).default([]),
    min_value: z.number().optional(),
    max_value: z.number().optional(),
    allowed_values: z.array(z.string()).optional(),
    null_policy: NullPolicy.default("allow"),
    default_value: z.unknown().optional(),
    transform: TransformRef.optional(),
    aggregation: AggregationSpec.optional(),
    depends_on: Lineage.default({ tables: [], features: [] }),
    drift: DriftSettings.optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (d.feature_type === "embedding" && d.dimension === undefined) issue("dimension", "an embedding needs a dimension");
    if (d.computation_type === "batch" && !d.source_query) issue("source_query", "a batch feature needs a source_query");
    if (d.computation_type === "on_demand" && !d.transform) issue("transform", "an on_demand feature needs a transform");
    if (d.computation_type === "aggregation") {
      const a = d.aggregation;
      if (!a) issue("aggregation", "an aggregation feature needs an aggregation block");
      else if (a.window !== "lifetime") {
        if (a.tile === undefined) issue("aggregation", "a windowed aggregation needs a tile size (aggregation.tile)");
        // Every event in a window is younger than the window, so a ttl of at least the window never hides a value.
        if (d.ttl_seconds < frequencySeconds(a.window))
          issue(
            "ttl_seconds",
            `ttl_seconds ${d.ttl_seconds} is shorter than the window ${a.window}: values would be served as OUTSIDE_MAX_AGE`,
          );
      }
      const fn = a?.function;
      if (fn === "last_n" ? d.feature_type !== "array" : d.feature_type !== "numerical")
        issue("feature_type", fn === "last_n" ? "a last_n aggregation is an array feature" : "an aggregation feature is numerical");
      if (d.source_query) issue("source_query", "an aggregation feature is computed from events, not a source_query");
    }
    if (d.null_policy === "default" && d.default_value === undefined) issue("default_value", 'null_policy "default" needs a default_value');
    if (d.min_value !== undefined && d.max_value !== undefined && d.min_value > d.max_value)
      issue("min_value", `min_value ${d.min_value} is above max_value ${d.max_value}`);
    if (d.drift && d.drift.enabled !== false && d.feature_type === "embedding")
      issue("drift", "drift is computed for numerical, categorical and array features, not embeddings");
    if (d.allowed_values && d.feature_type !== "categorical" && d.feature_type !== "array")
      issue("allowed_values", "allowed_values applies to categorical and array features only");
  });
export type FeatureDefinition = z.infer<typeof FeatureDefinition>;
export type FeatureDefinitionInput = z.input<typeof FeatureDefinition>;

export const EntityType = z.object({
  name: EntityTypeName,
  join_key: z.string().regex(SNAKE),
  description: z.string().min(1),
  /** Prefix of demo/production ids, e.g. "user_" for user_1. */
  id_prefix: z.string().optional(),
});
export type EntityType = z.infer<typeof EntityType>;

/** A features/*.yaml file: one feature group with group-level defaults. */
export const FeatureGroupFile = z
  .object({
    group: FeatureName,
    entity_type: EntityTypeName,
    description: z.string().min(1),
    owner: z.string().min(1).optional(),
    tags: z.array(z.string()).default([]),
    features: z.array(z.record(z.string(), z.unknown())).min(1),
  })
  .strict();
export type FeatureGroupFile = z.infer<typeof FeatureGroupFile>;

/** features/entities.yaml */
export const EntitiesFile = z.object({ entities: z.array(EntityType).min(1) }).strict();

/** Parse "15m" | "1h" | "1d" into seconds; "realtime" is 0. */
export function frequencySeconds(freq: string): number {
  if (freq === "realtime") return 0;
  const m = /^(\d+)([smhd])$/.exec(freq);
  if (!m) throw new Error(`not a duration: ${freq}`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}
