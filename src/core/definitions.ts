// Feature definitions: the zod schema that is the single source of the registry's types.
import { z } from "zod";

export const ENTITY_TYPES = ["user", "track", "artist", "session"] as const;
export const EntityTypeName = z.enum(ENTITY_TYPES);
export type EntityTypeName = z.infer<typeof EntityTypeName>;

export const FeatureType = z.enum(["numerical", "categorical", "array", "embedding"]);
export type FeatureType = z.infer<typeof FeatureType>;

export const ComputationType = z.enum(["batch", "stream", "on_demand"]);
export type ComputationType = z.infer<typeof ComputationType>;

export const NullPolicy = z.enum(["allow", "reject", "default"]);
export type NullPolicy = z.infer<typeof NullPolicy>;

/** "realtime" or a duration such as "15m", "1h", "1d". */
export const UpdateFrequency = z.string().regex(/^(realtime|\d+[smhd])$/, 'must be "realtime" or a duration like "30m", "1h", "1d"');

const SNAKE = /^[a-z][a-z0-9_]*$/;
export const FeatureName = z.string().regex(SNAKE, "must be snake_case (a-z, 0-9, _)").max(128);

/** Stream aggregation computed from raw events (e.g. count of skips over 7 days). */
export const AggregationSpec = z.object({
  function: z.enum(["count", "sum", "avg", "min", "max", "last", "distinct_count", "rate"]),
  window: z.string().regex(/^\d+[smhd]$/, 'must be a duration like "1h", "7d"'),
  source_event: z.string().min(1),
  field: z.string().optional(),
});
export type AggregationSpec = z.infer<typeof AggregationSpec>;

/** The name of a registered TypeScript transform (src/core/transforms.ts) and its inputs. */
export const TransformRef = z.object({
  name: z.string().min(1),
  /** Context keys (`context.<key>`) or stored feature references (`feature:<name>` / `group:name`). */
  inputs: z.array(z.string().min(1)).default([]),
});
export type TransformRef = z.infer<typeof TransformRef>;

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
  })
  .strict()
  .superRefine((d, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (d.feature_type === "embedding" && d.dimension === undefined) issue("dimension", "an embedding needs a dimension");
    if (d.computation_type === "batch" && !d.source_query) issue("source_query", "a batch feature needs a source_query");
    if (d.computation_type === "on_demand" && !d.transform) issue("transform", "an on_demand feature needs a transform");
    if (d.null_policy === "default" && d.default_value === undefined) issue("default_value", 'null_policy "default" needs a default_value');
    if (d.min_value !== undefined && d.max_value !== undefined && d.min_value > d.max_value)
      issue("min_value", `min_value ${d.min_value} is above max_value ${d.max_value}`);
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
