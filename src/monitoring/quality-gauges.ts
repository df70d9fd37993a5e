// The quality run's results as gauges for the MetricsHub (one writer: the newest run wins, labelled by feature).
import type { HubFamily, MetricsReport } from "../durable/metrics-hub";
import type { Sample } from "./exposition";
import type { FeatureQuality } from "./quality-run";

/** Quality gauges stand this long without a newer run (the production cron runs every 15 minutes). */
export const QUALITY_GAUGE_TTL_MS = 60 * 60_000;

const gauge = (name: string, help: string): HubFamily => ({ name, type: "gauge", help, aggregate: "last" });

export const QUALITY_FAMILIES: readonly HubFamily[] = [
  gauge("feature_staleness_seconds", "Now minus the newest event time of the feature's stored values."),
  gauge("feature_stale_share", "Share of the feature's stored values older than its ttl."),
  gauge("feature_completeness_ratio", "Entities of the type with a fresh non-null value / entities of the type."),
  gauge("feature_validation_error_rate", "Rejected / (rejected + accepted) values over the last day."),
  gauge("feature_quality_score", "Data quality score 0-100 (README Monitoring)."),
  gauge("feature_drift_psi", "Population Stability Index, current window against the reference."),
  gauge("feature_drift_p_value", "p-value of the feature's drift test (ks or chi2)."),
  gauge("feature_drift_detected", "1 when a drift threshold is crossed, 0 when not, absent without a verdict."),
  gauge("feature_update_frequency_seconds", "The feature's update_frequency (0 = realtime)."),
  gauge("feature_ttl_seconds", "The feature's ttl_seconds."),
  gauge("feature_tag_info", "1 per feature and tag (for alerts on features tagged core)."),
  gauge("feature_quality_last_run_timestamp_seconds", "When the quality job last finished (unix seconds)."),
];

export function qualitySamples(rows: readonly FeatureQuality[], now: number): Sample[] {
  const out: Sample[] = [];
  const add = (family: string, labels: Record<string, string>, value: number | null) => {
    if (value !== null && Number.isFinite(value)) out.push({ family, name: family, labels, value });
  };
  for (const q of rows) {
    const l = { feature_name: q.feature_name };
    add("feature_staleness_seconds", l, q.staleness_seconds);
    add("feature_stale_share", l, q.stale_share);
    add("feature_completeness_ratio", l, q.completeness);
    add("feature_validation_error_rate", l, q.validation_error_rate);
    add("feature_quality_score", l, q.score);
    add("feature_drift_psi", l, q.drift.psi);
    if (q.drift.test) add("feature_drift_p_value", { ...l, test: q.drift.test }, q.drift.pValue);
    if (q.drift.status === "ok" || q.drift.status === "drift") add("feature_drift_detected", l, q.drift.status === "drift" ? 1 : 0);
    add("feature_update_frequency_seconds", l, q.update_frequency_seconds);
    add("feature_ttl_seconds", l, q.ttl_seconds);
    for (const tag of q.tags) add("feature_tag_info", { ...l, tag }, 1);
  }
  add("feature_quality_last_run_timestamp_seconds", {}, now / 1000);
  return out;
}

/** The hub report of one run. */
export function qualityReport(rows: readonly FeatureQuality[], now: number, colo: string): MetricsReport {
  return {
    worker: "feature-ingest",
    colo,
    isolate: "quality-job",
    families: [...QUALITY_FAMILIES],
    counters: [],
    gauges: qualitySamples(rows, now),
    gaugeTtlMs: QUALITY_GAUGE_TTL_MS,
  };
}
