// Latency summaries (nearest-rank percentiles) and the result shape every scenario reports.

export interface TierShares {
  /** Share of served feature values per tier (0..1), from each response's metadata[*].tier. */
  shares: Record<string, number>;
  /** memory + kv + durable_object. */
  l0_l1: number;
  values: number;
}

import type { CpuUse } from "./cpu-sampler";
import type { GcSummary } from "./gc-trace";

export interface ScenarioResult {
  name: string;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  rps: number | null;
  errors: number;
  requests: number;
  tiers?: TierShares;
  /** Scenario-specific numbers (backend reads, messages/s, achieved rate ...). */
  extra?: Record<string, unknown>;
  skipped?: string;
  /** The scenario threw: what went wrong (the run goes on with the next one). */
  failed?: string;
  notes?: string;
  /** CPU use on the machine while it ran: the bench's own versus other processes'. */
  cpu?: CpuUse;
  /** V8 GC pauses on the workerd thread while it ran (all isolates; from --trace-gc). */
  gc?: GcSummary;
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function round(n: number | null, digits = 3): number | null {
  if (n === null || !Number.isFinite(n)) return null;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function summarize(
  name: string,
  latencies: number[],
  opts: { errors: number; elapsedMs: number; requests?: number },
): ScenarioResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  const requests = opts.requests ?? latencies.length + opts.errors;
  return {
    name,
    p50_ms: round(percentile(sorted, 50)),
    p95_ms: round(percentile(sorted, 95)),
    p99_ms: round(percentile(sorted, 99)),
    rps: opts.elapsedMs > 0 ? round((latencies.length / opts.elapsedMs) * 1000, 1) : null,
    errors: opts.errors,
    requests,
  };
}

export function skipped(name: string, reason: string): ScenarioResult {
  return { name, p50_ms: null, p95_ms: null, p99_ms: null, rps: null, errors: 0, requests: 0, skipped: reason };
}

/** Counts feature values per tier across responses. */
export class TierCounter {
  private readonly counts = new Map<string, number>();
  private total = 0;

  addResponse(body: unknown): void {
    const items = Array.isArray(body) ? body : [body];
    for (const item of items) {
      const metadata = (item as { metadata?: Record<string, { tier: string | null; status: string }> }).metadata;
      if (!metadata) continue;
      for (const m of Object.values(metadata)) {
        const tier = m.status === "PRESENT" ? (m.tier ?? "none") : `(${m.status})`;
        this.counts.set(tier, (this.counts.get(tier) ?? 0) + 1);
        this.total++;
      }
    }
  }

  result(): TierShares {
    const shares: Record<string, number> = {};
    for (const [tier, n] of [...this.counts].sort((a, b) => b[1] - a[1])) shares[tier] = round(n / Math.max(1, this.total), 4)!;
    const l1 = ["memory", "kv", "durable_object"].reduce((sum, t) => sum + (this.counts.get(t) ?? 0), 0);
    return { shares, l0_l1: round(l1 / Math.max(1, this.total), 4)!, values: this.total };
  }
}

export function failed(name: string, err: unknown): ScenarioResult {
  return {
    name,
    p50_ms: null,
    p95_ms: null,
    p99_ms: null,
    rps: null,
    errors: 1,
    requests: 0,
    failed: err instanceof Error ? err.message : String(err),
  };
}
