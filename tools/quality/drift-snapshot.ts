// Pins a drift reference: the hourly histograms of a period (e.g. the one a training set was drawn from) merged into feature_drift_references.
import type { Queryable } from "../postgres";

export interface SnapshotOptions {
  name: string;
  fromMs: number;
  toMs: number;
  /** Only these features; every feature with histograms in the period when empty. */
  features: string[];
  /** What the reference stands for, e.g. "period 2026-11-01..2026-11-08" or "training set spring-2026". */
  source: string;
}

/** Writes (or replaces) reference `name` for each feature; returns the features and their value counts. */
export async function pinDriftReference(db: Queryable, o: SnapshotOptions): Promise<{ feature: string; values: number }[]> {
  const res = await db.query<{ feature_name: string; values: number }>(
    `WITH h AS (
       SELECT feature_name, bins, nulls FROM feature_value_histograms
        WHERE bucket_start >= to_timestamp($1 / 1000.0) AND bucket_start < to_timestamp($2 / 1000.0)
          AND (cardinality($3::text[]) = 0 OR feature_name = ANY($3::text[]))),
     merged AS (
       SELECT feature_name,
              (SELECT coalesce(jsonb_object_agg(k, s), '{}'::jsonb) FROM (
                 SELECT e.key AS k, sum(e.value::float8) AS s FROM h h2, jsonb_each_text(h2.bins) e
                  WHERE h2.feature_name = h.feature_name GROUP BY e.key) m) AS bins,
              sum(nulls)::bigint AS nulls
         FROM h GROUP BY feature_name)
     INSERT INTO feature_drift_references (name, feature_name, bins, nulls, source)
     SELECT $4, feature_name, bins, nulls, $5 FROM merged
     ON CONFLICT (name, feature_name) DO UPDATE SET bins = excluded.bins, nulls = excluded.nulls, source = excluded.source, created_at = now()
     RETURNING feature_name, (nulls + (SELECT coalesce(sum(value::float8), 0) FROM jsonb_each_text(bins)))::float8 AS values`,
    [o.fromMs, o.toMs, o.features, o.name, o.source],
  );
  return res.rows.map((r) => ({ feature: r.feature_name, values: r.values })).sort((a, b) => a.feature.localeCompare(b.feature));
}
