// One quality run over Postgres: per stored feature, staleness, completeness, validation error rate, drift and score; kept as a time series.
import type { Client } from "@neondatabase/serverless";
import { type FeatureDefinition, frequencySeconds } from "../core/definitions";
import { DRIFT_DEFAULTS, type DriftResult, detectDrift, driftMonitored, thresholdsOf } from "../core/drift-detector";
import { qualityScore } from "../core/quality";
import type { featureQuality, SqlRow } from "../db/schema";
import { foldNewValues, histogramOf, snapshotOf } from "./histogram-fold";

/** feature_quality rows are kept this long; histograms longer, so a reference window weeks back still exists. */
export const QUALITY_RETENTION_DAYS = 30;
export const HISTOGRAM_RETENTION_DAYS = 90;
/** Validation error rate window: today and yesterday (UTC days of ingest_rejects and feature_update_counts). */
export const ERROR_RATE_DAYS = 2;

/** Features with values in Postgres (batch and stream); on_demand and aggregation values are computed, never stored. */
export function storedFeatures(features: readonly FeatureDefinition[]): FeatureDefinition[] {
  return features.filter((f) => f.computation_type === "batch" || f.computation_type === "stream");
}

/** The figures of a quality row, as stored (feature_quality) and as GET /quality answers them. */
export type QualityFigures = Pick<
  SqlRow<typeof featureQuality>,
  | "feature_name"
  | "entity_type"
  | "entities"
  | "with_value"
  | "staleness_seconds"
  | "stale_share"
  | "completeness"
  | "updates"
  | "rejects"
  | "validation_error_rate"
  | "score"
> & { computed_at: string };

export interface FeatureQuality extends QualityFigures {
  fresh_non_null: number;
  drift: DriftResult;
  update_frequency_seconds: number;
  ttl_seconds: number;
  tags: string[];
}

interface StatsRow {
  name: string;
  entities: number;
  with_value: number;
  newest_ms: number | null;
  stale: number;
  fresh_non_null: number;
}

/** Folds new values into histograms, computes every stored feature's quality at `now`, stores the rows and applies retention. */
export async function runQuality(client: Client, features: readonly FeatureDefinition[], now: number): Promise<FeatureQuality[]> {
  const stored = storedFeatures(features);
  if (stored.length === 0) return [];
  await foldNewValues(client, stored);
  const stats = await client.query<StatsRow>(
    `WITH d AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) AS d(name, entity_type, ttl)),
          ents AS (SELECT entity_type, count(DISTINCT entity_id)::int AS n FROM feature_latest
                    WHERE entity_type = ANY($2::text[]) GROUP BY entity_type)
     SELECT d.name, coalesce(e.n, 0) AS entities, count(fl.entity_id)::int AS with_value,
            (extract(epoch FROM max(fl.event_timestamp)) * 1000)::float8 AS newest_ms,
            count(fl.entity_id) FILTER (WHERE fl.event_timestamp < to_timestamp($4 / 1000.0) - make_interval(secs => d.ttl))::int AS stale,
            count(fl.entity_id) FILTER (WHERE fl.event_timestamp >= to_timestamp($4 / 1000.0) - make_interval(secs => d.ttl)
                                          AND fl.feature_value IS NOT NULL AND fl.feature_value <> 'null'::jsonb)::int AS fresh_non_null
       FROM d LEFT JOIN feature_latest fl ON fl.feature_name = d.name AND fl.entity_type = d.entity_type
              LEFT JOIN ents e ON e.entity_type = d.entity_type
      GROUP BY d.name, e.n`,
    [stored.map((f) => f.name), stored.map((f) => f.entity_type), stored.map((f) => f.ttl_seconds), now],
  );
  const counts = await client.query<{ feature_name: string; rejects: number; updates: number }>(
    `WITH r AS (SELECT feature_name, sum(rejected)::float8 AS n FROM ingest_rejects
                 WHERE day > (to_timestamp($1 / 1000.0) AT TIME ZONE 'UTC')::date - $2::int GROUP BY feature_name),
          u AS (SELECT feature_name, sum(updates)::float8 AS n FROM feature_update_counts
                 WHERE day > (to_timestamp($1 / 1000.0) AT TIME ZONE 'UTC')::date - $2::int GROUP BY feature_name)
     SELECT coalesce(r.feature_name, u.feature_name) AS feature_name, coalesce(r.n, 0) AS rejects, coalesce(u.n, 0) AS updates
       FROM r FULL JOIN u ON u.feature_name = r.feature_name`,
    [now, ERROR_RATE_DAYS],
  );
  const statsBy = new Map(stats.rows.map((r) => [r.name, r]));
  const countsBy = new Map(counts.rows.map((r) => [r.feature_name, r]));
  const computedAt = new Date(now).toISOString();
  const out: FeatureQuality[] = [];
  for (const f of stored) {
    const s = statsBy.get(f.name) ?? { name: f.name, entities: 0, with_value: 0, newest_ms: null, stale: 0, fresh_non_null: 0 };
    const c = countsBy.get(f.name) ?? { rejects: 0, updates: 0 };
    const drift = await driftOf(client, f, now);
    const staleShare = s.with_value ? s.stale / s.with_value : 0;
    const completeness = s.entities ? s.fresh_non_null / s.entities : 0;
    const errorRate = c.rejects + c.updates > 0 ? c.rejects / (c.rejects + c.updates) : 0;
    out.push({
      feature_name: f.name,
      entity_type: f.entity_type,
      computed_at: computedAt,
      entities: s.entities,
      with_value: s.with_value,
      fresh_non_null: s.fresh_non_null,
      staleness_seconds: s.newest_ms === null ? null : Math.max(0, (now - s.newest_ms) / 1000),
      stale_share: staleShare,
      completeness,
      updates: c.updates,
      rejects: c.rejects,
      validation_error_rate: errorRate,
      drift,
      score: qualityScore({ staleShare, completeness, validationErrorRate: errorRate, driftStatus: drift.status }),
      update_frequency_seconds: frequencySeconds(f.update_frequency),
      ttl_seconds: f.ttl_seconds,
      tags: f.tags,
    });
  }
  await storeQuality(client, out);
  await applyRetention(client, now);
  return out;
}

/** The current window against the feature's reference (the same window `offset` earlier by default, or a pinned snapshot). */
async function driftOf(client: Client, f: FeatureDefinition, now: number): Promise<DriftResult> {
  const t = thresholdsOf(f.drift);
  const windowMs = frequencySeconds(f.drift?.window ?? DRIFT_DEFAULTS.window) * 1000;
  const current = await histogramOf(client, f.name, now - windowMs, now);
  if (!driftMonitored(f.feature_type, f.drift)) return detectDrift("embedding", undefined, current, t);
  const ref = f.drift?.reference;
  const reference =
    ref && "snapshot" in ref
      ? await snapshotOf(client, ref.snapshot, f.name)
      : await (async () => {
          const offsetMs = ref && "offset" in ref ? frequencySeconds(ref.offset) * 1000 : windowMs;
          return histogramOf(client, f.name, now - offsetMs - windowMs, now - offsetMs);
        })();
  return detectDrift(f.feature_type, reference, current, t);
}

async function storeQuality(client: Client, rows: readonly FeatureQuality[]): Promise<void> {
  await client.query(
    `INSERT INTO feature_quality (computed_at, feature_name, entity_type, entities, with_value, fresh_non_null, staleness_seconds,
                                  stale_share, completeness, updates, rejects, validation_error_rate, drift_status, psi, drift_test,
                                  drift_statistic, drift_p_value, score, details)
     SELECT r.computed_at, r.feature_name, r.entity_type, r.entities, r.with_value, r.fresh_non_null, r.staleness_seconds, r.stale_share,
            r.completeness, r.updates, r.rejects, r.validation_error_rate, r.drift_status, r.psi, r.drift_test, r.drift_statistic,
            r.drift_p_value, r.score, r.details
       FROM jsonb_to_recordset($1::jsonb) AS r(computed_at timestamptz, feature_name text, entity_type text, entities int, with_value int,
            fresh_non_null int, staleness_seconds float8, stale_share float8, completeness float8, updates bigint, rejects bigint,
            validation_error_rate float8, drift_status text, psi float8, drift_test text, drift_statistic float8, drift_p_value float8,
            score float8, details jsonb)`,
    [
      JSON.stringify(
        rows.map((q) => ({
          ...q,
          drift_status: q.drift.status,
          psi: q.drift.psi,
          drift_test: q.drift.test,
          drift_statistic: q.drift.statistic,
          drift_p_value: q.drift.pValue,
          details: {
            drift: q.drift,
            update_frequency_seconds: q.update_frequency_seconds,
            ttl_seconds: q.ttl_seconds,
            tags: q.tags,
          },
        })),
      ),
    ],
  );
}

/** Retention: quality rows older than QUALITY_RETENTION_DAYS, histograms and update counts older than HISTOGRAM_RETENTION_DAYS. */
export async function applyRetention(client: Client, now: number): Promise<void> {
  await client.query("DELETE FROM feature_quality WHERE computed_at < to_timestamp($1 / 1000.0) - make_interval(days => $2)", [
    now,
    QUALITY_RETENTION_DAYS,
  ]);
  await client.query("DELETE FROM feature_value_histograms WHERE bucket_start < to_timestamp($1 / 1000.0) - make_interval(days => $2)", [
    now,
    HISTOGRAM_RETENTION_DAYS,
  ]);
  await client.query("DELETE FROM feature_update_counts WHERE day < (to_timestamp($1 / 1000.0) AT TIME ZONE 'UTC')::date - $2::int", [
    now,
    HISTOGRAM_RETENTION_DAYS,
  ]);
}
