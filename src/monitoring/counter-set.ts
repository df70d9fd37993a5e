// Cumulative counters of one isolate, keyed by name and labels: what the ingest Worker counts between reports.
import { type Sample, seriesKey } from "./exposition";

export class CounterSet {
  private readonly series = new Map<string, Sample>();

  inc(family: string, labels: Record<string, string>, by = 1, name = family): void {
    if (by === 0) return;
    const key = seriesKey(name, labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { family, name, labels, value: by });
  }

  /**
   * Starts a series at 0 before anything is counted in it. Prometheus' increase() and rate() need a
   * sample before the first increment: a series that first appears at 3 shows no increase, so an
   * alert on its first dead letters would stay silent.
   */
  declare(family: string, labels: Record<string, string>, name = family): void {
    const key = seriesKey(name, labels);
    if (!this.series.has(key)) this.series.set(key, { family, name, labels, value: 0 });
  }

  /** Copies, so a report in flight does not see later increments. */
  samples(): Sample[] {
    return [...this.series.values()].map((s) => ({ ...s, labels: { ...s.labels } }));
  }
}
