// Prometheus metrics of one isolate: request counts and latency, tier hits, cache and breaker state.
import type { TieredFeatureStore } from "../stores/tiered-feature-store";

/** A label value in the text exposition format: backslash, double quote and line feed escaped. */
export function labelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Histogram bucket bounds in seconds (the design's feature_serving_duration_seconds). */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class ServingMetrics {
  /** Request counts by route, then HTTP status. */
  private readonly requests = new Map<string, Map<number, number>>();
  private readonly buckets = new Map<string, number[]>();
  private readonly sums = new Map<string, number>();
  private readonly counts = new Map<string, number>();
  readonly startedAt = Date.now();
  featureStatuses: Record<string, number> = { PRESENT: 0, NOT_FOUND: 0, OUTSIDE_MAX_AGE: 0, DEFAULTED: 0 };

  observe(route: string, status: number, seconds: number): void {
    const byStatus = this.requests.get(route) ?? new Map<number, number>();
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    this.requests.set(route, byStatus);
    const b = this.buckets.get(route) ?? LATENCY_BUCKETS_S.map(() => 0);
    LATENCY_BUCKETS_S.forEach((le, i) => {
      if (seconds <= le) b[i]!++;
    });
    this.buckets.set(route, b);
    this.sums.set(route, (this.sums.get(route) ?? 0) + seconds);
    this.counts.set(route, (this.counts.get(route) ?? 0) + 1);
  }

  render(store: TieredFeatureStore, registryVersion: string | null): string {
    const lines: string[] = [];
    const help = (name: string, type: string, text: string) => lines.push(`# HELP ${name} ${text}`, `# TYPE ${name} ${type}`);
    help("feature_serving_requests_total", "counter", "Serving API requests by route and HTTP status (this isolate).");
    for (const [route, byStatus] of this.requests)
      for (const [status, n] of byStatus)
        lines.push(`feature_serving_requests_total{route="${labelValue(route)}",status="${status}"} ${n}`);
    help("feature_serving_duration_seconds", "histogram", "Serving latency by route (this isolate).");
    for (const [route, b] of this.buckets) {
      const r = labelValue(route);
      LATENCY_BUCKETS_S.forEach((le, i) => void lines.push(`feature_serving_duration_seconds_bucket{route="${r}",le="${le}"} ${b[i]}`));
      lines.push(`feature_serving_duration_seconds_bucket{route="${r}",le="+Inf"} ${this.counts.get(route)}`);
      lines.push(`feature_serving_duration_seconds_sum{route="${r}"} ${this.sums.get(route)}`);
      lines.push(`feature_serving_duration_seconds_count{route="${r}"} ${this.counts.get(route)}`);
    }
    help("feature_tier_hits_total", "counter", "Feature values served per tier.");
    for (const [tier, n] of Object.entries(store.counters.hits)) lines.push(`feature_tier_hits_total{tier="${labelValue(tier)}"} ${n}`);
    help("feature_tier_errors_total", "counter", "Tier reads that failed or timed out.");
    for (const [tier, n] of Object.entries(store.counters.errors)) lines.push(`feature_tier_errors_total{tier="${labelValue(tier)}"} ${n}`);
    help("feature_backend_reads_total", "counter", "Fetches below L0 (single-flight merges concurrent misses).");
    lines.push(`feature_backend_reads_total ${store.counters.backendReads}`);
    help("feature_values_served_total", "counter", "Served feature values by status.");
    for (const [status, n] of Object.entries(this.featureStatuses))
      lines.push(`feature_values_served_total{status="${labelValue(status)}"} ${n}`);
    const mem = store.memory.stats();
    help("feature_memory_cache_entries", "gauge", "L0 cached feature values (bounded by MEMORY_MAX_ENTRIES).");
    lines.push(`feature_memory_cache_entries ${mem.entries}`);
    help("feature_memory_cache_entities", "gauge", "L0 entities (one LRU entry per entity).");
    lines.push(`feature_memory_cache_entities ${mem.entities}`);
    help("feature_memory_cache_bytes", "gauge", "L0 estimated bytes.");
    lines.push(`feature_memory_cache_bytes ${mem.bytes}`);
    help("feature_memory_cache_declined_total", "counter", "New entities a full L0 turned away on first sight (L0_ADMISSION=repeat).");
    lines.push(`feature_memory_cache_declined_total ${mem.declined}`);
    help("feature_tier_circuit_open", "gauge", "1 when a tier's circuit breaker is open.");
    for (const [tier, b] of Object.entries(store.breakers))
      lines.push(`feature_tier_circuit_open{tier="${labelValue(tier)}"} ${b.state === "open" ? 1 : 0}`);
    help("feature_registry_info", "gauge", "Registry version loaded by this isolate.");
    lines.push(`feature_registry_info{version="${labelValue(registryVersion ?? "none")}"} 1`);
    return `${lines.join("\n")}\n`;
  }
}
