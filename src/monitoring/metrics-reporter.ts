// Sends one isolate's metric deltas to the MetricsHub, at most every METRICS_FLUSH_INTERVAL_MS, off the request's critical path.
import { errorMessage } from "../core/errors";
import { log } from "../core/log";
import type { HubFamily, HubSnapshot, MetricsReport } from "../durable/metrics-hub";
import { type Sample, seriesKey } from "./exposition";

/** An isolate reports at most this often; a scrape also makes the serving isolate it lands on report first. */
export const METRICS_FLUSH_INTERVAL_MS = 10_000;
/** An isolate's gauges (cache sizes, breaker state) stop counting this long after its last report. */
export const ISOLATE_GAUGE_TTL_MS = 2 * 60_000;
/** The colo label when the runtime gives none (local dev, queue and cron events). */
export const LOCAL_COLO = "local";

/** The hub as a reporter and /metrics see it (a Durable Object stub, or a test's in-memory one). */
export interface MetricsHubClient {
  report(r: MetricsReport): Promise<unknown>;
  snapshot(): Promise<HubSnapshot>;
}

/** request.cf.colo, or "local" where there is none. */
export function coloOf(request: Request | undefined): string {
  const colo = (request as (Request & { cf?: { colo?: unknown } }) | undefined)?.cf?.colo;
  return typeof colo === "string" && colo ? colo : LOCAL_COLO;
}

export class MetricsReporter {
  /** Cumulative counter values the hub has accepted, per series: the next report sends what grew since. */
  private readonly sent = new Map<string, number>();
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  readonly isolate = crypto.randomUUID();

  constructor(
    private readonly worker: string,
    private readonly families: readonly HubFamily[],
    /** This isolate's series now: counters cumulative since the isolate started, gauges current. */
    private readonly collect: () => Sample[],
    private readonly now: () => number = Date.now,
    private readonly intervalMs = METRICS_FLUSH_INTERVAL_MS,
  ) {}

  /** Sends the deltas now; the hub's totals include everything counted before the call once it resolves. */
  async flush(hub: MetricsHubClient, colo: string): Promise<void> {
    if (this.inFlight) await this.inFlight;
    this.lastFlushAt = this.now();
    const counterFamilies = new Set(this.families.filter((f) => f.type !== "gauge").map((f) => f.name));
    const counters: Sample[] = [];
    const gauges: Sample[] = [];
    const accepted: [string, number][] = [];
    for (const s of this.collect()) {
      if (!counterFamilies.has(s.family)) {
        gauges.push(s);
        continue;
      }
      const key = seriesKey(s.name, s.labels);
      const delta = s.value - (this.sent.get(key) ?? 0);
      // A series the hub has not seen yet goes even at 0 (CounterSet.declare), so it exists before its first increment.
      if (delta !== 0 || !this.sent.has(key)) counters.push({ ...s, value: delta });
      accepted.push([key, s.value]);
    }
    const report: MetricsReport = {
      worker: this.worker,
      colo,
      isolate: this.isolate,
      families: [...this.families],
      counters,
      gauges,
      gaugeTtlMs: ISOLATE_GAUGE_TTL_MS,
    };
    const sending = hub.report(report).then(() => {
      // Only an accepted report moves the baseline: a failed one is resent, larger, next time.
      for (const [key, value] of accepted) this.sent.set(key, value);
    });
    // The caller sees the failure through `sending`; the in-flight marker only orders reports.
    this.inFlight = sending.then(
      () => undefined,
      () => undefined,
    );
    void this.inFlight.then(() => {
      this.inFlight = undefined;
    });
    await sending;
  }

  /** After a request or batch: report in the background if the interval has passed (never awaited by the caller). */
  maybeFlush(hub: MetricsHubClient | undefined, colo: string, waitUntil: ((p: Promise<unknown>) => void) | undefined): void {
    if (!hub || this.inFlight || this.now() - this.lastFlushAt < this.intervalMs) return;
    const p = this.flush(hub, colo).catch((err: unknown) =>
      log("warn", "metrics_report_failed", { worker: this.worker, error: errorMessage(err) }),
    );
    waitUntil?.(p);
  }
}
