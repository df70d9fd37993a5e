// The Grafana dashboard as code, typed against @grafana/schema: the design's four panels plus hit ratio, drift, dead letters, backlog.
import type { Dashboard, DataSourceRef, Panel } from "@grafana/schema";

/** The Prometheus data source, chosen when the dashboard is imported (Grafana's ${DS_PROMETHEUS} input). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's import placeholder, replaced by Grafana, not by JavaScript.
const PROMETHEUS: DataSourceRef = { type: "prometheus", uid: "${DS_PROMETHEUS}" };

export interface DashboardPanelSpec {
  title: string;
  description: string;
  /** PromQL of each series; the real-Prometheus test evaluates every one. */
  queries: { expr: string; legend: string }[];
  unit: string;
  kind: "timeseries" | "stat";
  /** A value past this is drawn red (the alert's threshold where there is one). */
  threshold?: { value: number; below?: boolean };
}

/** The panels in order; two per row. */
export const PANELS: readonly DashboardPanelSpec[] = [
  {
    title: "Freshness: staleness per feature",
    description:
      "now − newest event time per feature (quality cron). Alert FeatureStale: > 2 × update frequency (ttl for stream features).",
    queries: [{ expr: "max by (feature_name) (feature_staleness_seconds)", legend: "{{feature_name}}" }],
    unit: "s",
    kind: "timeseries",
  },
  {
    title: "Completeness per feature",
    description: "Entities of the type with a fresh non-null value ÷ entities of the type. Target > 95 % for features tagged core.",
    queries: [{ expr: "min by (feature_name) (feature_completeness_ratio)", legend: "{{feature_name}}" }],
    unit: "percentunit",
    kind: "timeseries",
    threshold: { value: 0.95, below: true },
  },
  {
    title: "Serving latency p95 by route",
    description: "histogram_quantile over every isolate's feature_serving_duration_seconds. Alert ServingLatencyP95High: > 10 ms.",
    queries: [
      {
        expr: 'histogram_quantile(0.95, sum by (le, route) (rate(feature_serving_duration_seconds_bucket{route!="/metrics"}[5m])))',
        legend: "{{route}}",
      },
    ],
    unit: "s",
    kind: "timeseries",
    threshold: { value: 0.01 },
  },
  {
    title: "Validation errors",
    description: "Rejected values per second by feature and rule (consumer), and the daily error rate per feature. Target < 0.1 %.",
    queries: [
      { expr: "sum by (feature_name, rule) (rate(feature_validation_errors_total[5m]))", legend: "{{feature_name}} {{rule}} /s" },
      { expr: "max by (feature_name) (feature_validation_error_rate)", legend: "{{feature_name}} rate (1 d)" },
    ],
    unit: "short",
    kind: "timeseries",
  },
  {
    title: "Tier hit ratio",
    description: "Share of served values each tier answered, over every serving isolate.",
    queries: [
      {
        expr: "sum by (tier) (rate(feature_tier_hits_total[5m])) / ignoring (tier) group_left sum(rate(feature_tier_hits_total[5m]))",
        legend: "{{tier}}",
      },
    ],
    unit: "percentunit",
    kind: "timeseries",
  },
  {
    title: "Drift (PSI) per feature",
    description: "Population Stability Index of the current window against the reference; drift also on KS/chi-square p < 0.01.",
    queries: [
      { expr: "max by (feature_name) (feature_drift_psi)", legend: "{{feature_name}} PSI" },
      { expr: "max by (feature_name) (feature_drift_detected)", legend: "{{feature_name}} drift" },
    ],
    unit: "short",
    kind: "timeseries",
    threshold: { value: 0.2 },
  },
  {
    title: "Dead letters",
    description: "Messages sent to the dead-letter queue per hour, by source (validation, retries_exhausted, parse).",
    queries: [{ expr: "sum by (source) (increase(feature_dead_letters_total[1h]))", legend: "{{source}}" }],
    unit: "short",
    kind: "timeseries",
  },
  {
    title: "Queue backlog",
    description: "Messages enqueued by the Workers and not yet consumed (estimate from the Workers' counters).",
    queries: [{ expr: "sum(feature_queue_backlog_messages)", legend: "backlog" }],
    unit: "short",
    kind: "timeseries",
  },
  {
    title: "Data quality score",
    description: "Per feature, 0–100 (README Monitoring). Target > 95.",
    queries: [{ expr: "min by (feature_name) (feature_quality_score)", legend: "{{feature_name}}" }],
    unit: "short",
    kind: "timeseries",
    threshold: { value: 95, below: true },
  },
  {
    title: "Circuit breakers open",
    description: "1 while a tier's breaker is open in any isolate. Alert CircuitBreakerOpen after 1 minute.",
    queries: [{ expr: "max by (worker, tier) (feature_tier_circuit_open)", legend: "{{worker}} {{tier}}" }],
    unit: "short",
    kind: "stat",
  },
];

const WIDTH = 12;
const HEIGHT = 8;

function panelOf(spec: DashboardPanelSpec, i: number): Panel {
  const steps = spec.threshold
    ? spec.threshold.below
      ? [
          { color: "red", value: null },
          { color: "green", value: spec.threshold.value },
        ]
      : [
          { color: "green", value: null },
          { color: "red", value: spec.threshold.value },
        ]
    : [{ color: "green", value: null }];
  return {
    id: i + 1,
    type: spec.kind,
    title: spec.title,
    description: spec.description,
    datasource: PROMETHEUS,
    gridPos: { x: (i % 2) * WIDTH, y: Math.floor(i / 2) * HEIGHT, w: WIDTH, h: HEIGHT },
    targets: spec.queries.map((q, k) => ({
      refId: String.fromCharCode(65 + k),
      datasource: PROMETHEUS,
      expr: q.expr,
      legendFormat: q.legend,
    })),
    fieldConfig: {
      defaults: {
        unit: spec.unit,
        // Threshold steps: the first has no value (the base colour).
        thresholds: { mode: "absolute" as never, steps: steps as never },
        custom: spec.kind === "timeseries" ? { thresholdsStyle: { mode: spec.threshold ? "line" : "off" } } : {},
      },
      overrides: [],
    },
    options: spec.kind === "timeseries" ? { legend: { showLegend: true, displayMode: "table", placement: "right" } } : {},
  };
}

/** The dashboard Grafana imports (monitoring/grafana/feature-store.json). */
export function featureStoreDashboard(): Dashboard & { __inputs: unknown[] } {
  return {
    __inputs: [{ name: "DS_PROMETHEUS", label: "Prometheus", type: "datasource", pluginId: "prometheus", pluginName: "Prometheus" }],
    uid: "echotune-feature-store",
    title: "EchoTune Feature Store — quality and serving",
    description: "Freshness, completeness, serving latency, validation errors, tier hit ratio, drift, dead letters, queue backlog.",
    tags: ["feature-store", "echotune"],
    editable: true,
    schemaVersion: 39,
    version: 1,
    time: { from: "now-6h", to: "now" },
    refresh: "30s",
    timezone: "utc",
    panels: PANELS.map(panelOf),
  };
}

/** Every PromQL query of the dashboard. */
export function dashboardQueries(): string[] {
  return PANELS.flatMap((p) => p.queries.map((q) => q.expr));
}
