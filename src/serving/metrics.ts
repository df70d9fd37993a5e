// Prometheus metrics of one serving isolate: request counts and latency, tier hits, cache and breaker state, as samples.
import type { HubFamily } from "../durable/metrics-hub";
import { histogramSamples, renderExposition, type Sample } from "../monitoring/exposition";
import type { TieredFeatureStore } from "../stores/tiered-feature-store";

export { labelValue } from "../monitoring/exposition";

/** Histogram bucket bounds in seconds (the design's feature_serving_duration_seconds). */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const SERVING_FAMILIES: readonly HubFamily[] = [
  { name: "feature_serving_requests_total", type: "counter", help: "Serving API requests by route and HTTP status." },
  { name: "feature_serving_duration_seconds", type: "histogram", help: "Serving latency by route." },
  { name: "feature_tier_hits_total", type: "counter", help: "Feature values served per tier." },
  { name: "feature_tier_errors_total", type: "counter", help: "Tier reads that failed or timed out." },
  { name: "feature_backend_reads_total", type: "counter", help: "Fetches below L0 (single-flight merges concurrent misses)." },
  {
    name: "feature_hedged_reads_total",
    type: "counter",
    help: "Hedged tier reads: the tier was slower than its p95, so the next tier (hedge_tier) was asked too.",
  },
  {
    name: "feature_hedged_read_wins_total",
    type: "counter",
    help: "Hedged reads whose answer (from hedge_tier) came before the slow tier's.",
  },
  { name: "feature_hedges_capped_total", type: "counter", help: "Hedges the token bucket refused (the cap of hedges per backend fetch)." },
  { name: "feature_values_served_total", type: "counter", help: "Served feature values by status." },
  { name: "feature_memory_cache_entries", type: "gauge", help: "L0 cached feature values (bounded by MEMORY_MAX_ENTRIES)." },
  { name: "feature_memory_cache_entities", type: "gauge", help: "L0 entities (one LRU entry per entity)." },
  { name: "feature_memory_cache_bytes", type: "gauge", help: "L0 estimated bytes." },
  {
    name: "feature_memory_cache_declined_total",
    type: "counter",
    help: "New entities a full L0 turned away on first sight (L0_ADMISSION=repeat).",
  },
  { name: "feature_tier_circuit_open", type: "gauge", help: "1 when a tier's circuit breaker is open (in any isolate).", aggregate: "max" },
  { name: "feature_registry_info", type: "gauge", help: "Registry versions loaded by the isolates.", aggregate: "max" },
];

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

  /** This isolate's series: counters cumulative since it started, gauges as they are now. */
  samples(store: TieredFeatureStore, registryVersion: string | null): Sample[] {
    const out: Sample[] = [];
    const add = (family: string, labels: Record<string, string>, value: number) => out.push({ family, name: family, labels, value });
    for (const [route, byStatus] of this.requests)
      for (const [status, n] of byStatus) add("feature_serving_requests_total", { route, status: String(status) }, n);
    for (const [route, b] of this.buckets)
      out.push(
        ...histogramSamples(
          "feature_serving_duration_seconds",
          { route },
          LATENCY_BUCKETS_S,
          b,
          this.sums.get(route) ?? 0,
          this.counts.get(route) ?? 0,
        ),
      );
    for (const [tier, n] of Object.entries(store.counters.hits)) add("feature_tier_hits_total", { tier }, n);
    for (const [tier, n] of Object.entries(store.counters.errors)) add("feature_tier_errors_total", { tier }, n);
    add("feature_backend_reads_total", {}, store.counters.backendReads);
    if (store.hedge) {
      for (const h of store.hedge.hedgeCounts()) {
        add("feature_hedged_reads_total", { tier: h.tier, hedge_tier: h.hedgeTier }, h.sent);
        add("feature_hedged_read_wins_total", { tier: h.tier, hedge_tier: h.hedgeTier }, h.won);
      }
      add("feature_hedges_capped_total", {}, store.hedge.capped);
    }
    for (const [status, n] of Object.entries(this.featureStatuses)) add("feature_values_served_total", { status }, n);
    const mem = store.memory.stats();
    add("feature_memory_cache_entries", {}, mem.entries);
    add("feature_memory_cache_entities", {}, mem.entities);
    add("feature_memory_cache_bytes", {}, mem.bytes);
    add("feature_memory_cache_declined_total", {}, mem.declined);
    for (const [tier, b] of Object.entries(store.breakers)) add("feature_tier_circuit_open", { tier }, b.state === "open" ? 1 : 0);
    add("feature_registry_info", { version: registryVersion ?? "none" }, 1);
    return out;
  }

  /** This isolate alone (the /metrics answer when no metrics hub is bound). */
  render(store: TieredFeatureStore, registryVersion: string | null): string {
    return renderExposition(SERVING_FAMILIES, this.samples(store, registryVersion));
  }
}
