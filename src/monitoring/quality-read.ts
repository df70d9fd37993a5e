// Reads of the quality time series (feature_quality) for GET /quality and the CLI: the newest row per feature, one feature's history.
import type { Client } from "@neondatabase/serverless";
import { failingChecks } from "../core/quality";
import type { featureQuality, SqlRow } from "../db/schema";
import type { QualityFigures } from "./quality-run";

/** One quality row as the API answers it. */
export interface QualityPoint extends QualityFigures {
  drift: { status: string; psi: number | null; test: string | null; statistic: number | null; p_value: number | null; reasons: string[] };
  /** Targets this row misses: stale, completeness (core features), validation, drift, score. */
  failing: string[];
}

/** A history longer than this is cut to the newest rows. */
export const MAX_HISTORY_POINTS = 2_000;

const COLUMNS = `feature_name, entity_type, computed_at, entities, with_value, staleness_seconds, stale_share, completeness,
  updates::float8 AS updates, rejects::float8 AS rejects, validation_error_rate, drift_status, psi, drift_test, drift_statistic,
  drift_p_value, score, details`;

/** A selected row (COLUMNS): the table's columns, with the details quality-run.ts writes. */
type Row = Omit<SqlRow<typeof featureQuality>, "id" | "fresh_non_null" | "details"> & {
  details: { update_frequency_seconds?: number; ttl_seconds?: number; tags?: string[]; drift?: { reasons?: string[] } };
};

function toPoint(r: Row): QualityPoint {
  const failing = failingChecks({
    staleShare: r.stale_share,
    completeness: r.completeness,
    validationErrorRate: r.validation_error_rate,
    driftStatus: r.drift_status as "ok",
    score: r.score,
    stalenessSeconds: r.staleness_seconds,
    updateFrequencySeconds: r.details.update_frequency_seconds ?? 0,
    ttlSeconds: r.details.ttl_seconds ?? 0,
    core: (r.details.tags ?? []).includes("core"),
  });
  return {
    feature_name: r.feature_name,
    entity_type: r.entity_type,
    computed_at: r.computed_at.toISOString(),
    entities: r.entities,
    with_value: r.with_value,
    staleness_seconds: r.staleness_seconds,
    stale_share: r.stale_share,
    completeness: r.completeness,
    updates: r.updates,
    rejects: r.rejects,
    validation_error_rate: r.validation_error_rate,
    drift: {
      status: r.drift_status,
      psi: r.psi,
      test: r.drift_test,
      statistic: r.drift_statistic,
      p_value: r.drift_p_value,
      reasons: r.details.drift?.reasons ?? [],
    },
    score: r.score,
    failing,
  };
}

/** The newest row of every feature (an index scan per feature name). */
export async function latestQuality(client: Client): Promise<QualityPoint[]> {
  const res = await client.query<Row>(
    `SELECT DISTINCT ON (feature_name) ${COLUMNS} FROM feature_quality ORDER BY feature_name, computed_at DESC`,
  );
  return res.rows.map(toPoint);
}

/** One feature's rows in [fromMs, toMs], oldest first, at most `limit` (the newest ones). */
export async function qualityHistory(
  client: Client,
  feature: string,
  fromMs: number,
  toMs: number,
  limit: number,
): Promise<QualityPoint[]> {
  const res = await client.query<Row>(
    `SELECT * FROM (SELECT ${COLUMNS} FROM feature_quality
       WHERE feature_name = $1 AND computed_at >= to_timestamp($2 / 1000.0) AND computed_at <= to_timestamp($3 / 1000.0)
       ORDER BY computed_at DESC LIMIT $4) h ORDER BY computed_at`,
    [feature, fromMs, toMs, limit],
  );
  return res.rows.map(toPoint);
}
