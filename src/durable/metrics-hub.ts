// MetricsHub: one SQLite-backed Durable Object that adds up the metric deltas every isolate of both Workers sends it.
import { DurableObject } from "cloudflare:workers";
import { type MetricFamily, type Sample, seriesKey } from "../monitoring/exposition";

/** The one hub every isolate reports to (a scrape reads one object, so totals are consistent). */
export const METRICS_HUB_NAME = "global";

/**
 * How a gauge of several isolates becomes one series: `sum` (cache sizes), `max` (a breaker open
 * anywhere), `last` (written by one job, e.g. the quality cron: the newest write wins).
 */
export type GaugeAggregate = "sum" | "max" | "last";

export interface HubFamily extends MetricFamily {
  aggregate?: GaugeAggregate;
}

/** What one isolate sends: counter increments since its last accepted report, gauges as they are. */
export interface MetricsReport {
  worker: string;
  colo: string;
  /** Random per isolate: gauges of different isolates are kept apart until they expire. */
  isolate: string;
  families: HubFamily[];
  counters: Sample[];
  gauges: Sample[];
  /** How long these gauges stand without a newer report (an isolate that is gone stops counting). */
  gaugeTtlMs: number;
}

export interface HubSnapshot {
  families: MetricFamily[];
  samples: Sample[];
}

/** Counters come from the isolates; these are worked out from them when the hub is read. */
const DERIVED_FAMILIES: MetricFamily[] = [
  { name: "feature_tier_hit_ratio", type: "gauge", help: "Share of served values each tier answered (per worker and colo)." },
  {
    name: "feature_queue_backlog_messages",
    type: "gauge",
    help: "Messages enqueued by the Workers' producers and not yet consumed (estimate from the Workers' own counters).",
  },
];

export class MetricsHub extends DurableObject {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS families (name TEXT PRIMARY KEY, type TEXT NOT NULL, help TEXT NOT NULL, aggregate TEXT NOT NULL);
       CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, family TEXT NOT NULL, name TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL);
       CREATE TABLE IF NOT EXISTS gauges (key TEXT NOT NULL, isolate TEXT NOT NULL, family TEXT NOT NULL, name TEXT NOT NULL,
         labels TEXT NOT NULL, value REAL NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (key, isolate));`,
    );
  }

  /** Adds one isolate's report; every series gets the worker and colo labels. */
  report(r: MetricsReport): { counters: number; gauges: number } {
    const now = Date.now();
    const labelled = (s: Sample) => {
      const labels = { ...s.labels, worker: r.worker, colo: r.colo };
      return { ...s, labels, key: seriesKey(s.name, labels) };
    };
    this.ctx.storage.transactionSync(() => {
      for (const f of r.families)
        this.sql.exec(
          "INSERT INTO families (name, type, help, aggregate) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET type = excluded.type, help = excluded.help, aggregate = excluded.aggregate",
          f.name,
          f.type,
          f.help,
          f.aggregate ?? "sum",
        );
      for (const s of r.counters.map(labelled))
        this.sql.exec(
          "INSERT INTO counters (key, family, name, labels, value) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
          s.key,
          s.family,
          s.name,
          JSON.stringify(s.labels),
          s.value,
        );
      const aggregates = this.aggregates();
      for (const s of r.gauges.map(labelled)) {
        // A "last" gauge is one series whoever writes it; the others are kept per isolate until they expire.
        const isolate = aggregates.get(s.family) === "last" ? "*" : r.isolate;
        this.sql.exec(
          "INSERT INTO gauges (key, isolate, family, name, labels, value, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key, isolate) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
          s.key,
          isolate,
          s.family,
          s.name,
          JSON.stringify(s.labels),
          s.value,
          now + r.gaugeTtlMs,
        );
      }
      this.sql.exec("DELETE FROM gauges WHERE expires_at <= ?", now);
    });
    return { counters: r.counters.length, gauges: r.gauges.length };
  }

  /** Totals of every isolate: counters summed, live gauges combined by their family's aggregate, plus derived series. */
  snapshot(): HubSnapshot {
    const now = Date.now();
    const families = [
      ...this.sql
        .exec<{ name: string; type: string; help: string }>("SELECT name, type, help FROM families ORDER BY name")
        .toArray()
        .map((f) => ({ name: f.name, type: f.type as MetricFamily["type"], help: f.help })),
      ...DERIVED_FAMILIES,
    ];
    const aggregates = this.aggregates();
    const samples: Sample[] = this.sql
      .exec<{ family: string; name: string; labels: string; value: number }>(
        "SELECT family, name, labels, value FROM counters ORDER BY family, key",
      )
      .toArray()
      .map((r) => ({ family: r.family, name: r.name, labels: JSON.parse(r.labels) as Record<string, string>, value: r.value }));
    const gauges = new Map<string, Sample & { values: number[] }>();
    type GaugeRow = { key: string; family: string; name: string; labels: string; value: number };
    for (const r of this.sql
      .exec<GaugeRow>("SELECT key, family, name, labels, value FROM gauges WHERE expires_at > ? ORDER BY family, key", now)
      .toArray()) {
      const g = gauges.get(r.key) ?? { family: r.family, name: r.name, labels: JSON.parse(r.labels), value: 0, values: [] as number[] };
      g.values.push(r.value);
      gauges.set(r.key, g);
    }
    for (const { values, ...g } of gauges.values()) {
      const how = aggregates.get(g.family) ?? "sum";
      samples.push({ ...g, value: how === "max" ? Math.max(...values) : values.reduce((a, b) => a + b, 0) });
    }
    samples.push(...hitRatios(samples), ...queueBacklog(samples));
    return { families, samples };
  }

  private aggregates(): Map<string, GaugeAggregate> {
    return new Map(
      this.sql
        .exec<{ name: string; aggregate: string }>("SELECT name, aggregate FROM families")
        .toArray()
        .map((f) => [f.name, f.aggregate as GaugeAggregate]),
    );
  }
}

/** feature_tier_hit_ratio{tier,worker,colo}: each tier's share of the values served in that worker and colo. */
function hitRatios(samples: readonly Sample[]): Sample[] {
  const hits = samples.filter((s) => s.name === "feature_tier_hits_total");
  const totals = new Map<string, number>();
  const group = (s: Sample) => `${s.labels.worker}\u0000${s.labels.colo}`;
  for (const s of hits) totals.set(group(s), (totals.get(group(s)) ?? 0) + s.value);
  return hits.map((s) => ({
    family: "feature_tier_hit_ratio",
    name: "feature_tier_hit_ratio",
    labels: s.labels,
    value: totals.get(group(s)) ? s.value / totals.get(group(s))! : 0,
  }));
}

/** Enqueued minus consumed over every producer and consumer that reports (never below zero). */
function queueBacklog(samples: readonly Sample[]): Sample[] {
  const sum = (name: string) => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
  const enqueued = sum("feature_queue_enqueued_total");
  const consumed = sum("feature_queue_consumed_total");
  if (enqueued === 0 && consumed === 0) return [];
  const backlog = Math.max(0, enqueued - consumed);
  return [
    {
      family: "feature_queue_backlog_messages",
      name: "feature_queue_backlog_messages",
      labels: { queue: "feature-ingest" },
      value: backlog,
    },
  ];
}
