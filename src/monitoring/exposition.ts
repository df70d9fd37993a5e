// Metric samples as plain data, and their Prometheus text exposition (format 0.0.4): one renderer for every /metrics.

export type MetricType = "counter" | "gauge" | "histogram";

/** A family's metadata: the `# HELP` and `# TYPE` lines. */
export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
}

/**
 * One series' value. Counters (and a histogram's `_bucket`, `_sum`, `_count` series) are
 * cumulative and add up across isolates; gauges are a current value.
 */
export interface Sample {
  /** The family this series belongs to (a histogram's series carry its base name). */
  family: string;
  /** The series' own name: the family, or family + `_bucket` / `_sum` / `_count`. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A label value in the text exposition format: backslash, double quote and line feed escaped. */
export function labelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Prometheus's number format: integers as they are, +Inf/-Inf/NaN spelled its way. */
function numberText(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}

/** `name{a="1",b="2"}`, labels in the order given (le last for buckets, as Prometheus prints them). */
export function seriesText(name: string, labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length ? `${name}{${parts.join(",")}}` : name;
}

/** Identity of a series: its name and labels, label order ignored. */
export function seriesKey(name: string, labels: Record<string, string>): string {
  return JSON.stringify([name, Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

/** The exposition text: each family's HELP/TYPE once, then its series, families in the order first seen. */
export function renderExposition(families: readonly MetricFamily[], samples: readonly Sample[]): string {
  const meta = new Map(families.map((f) => [f.name, f]));
  const byFamily = new Map<string, Sample[]>();
  for (const s of samples) {
    const list = byFamily.get(s.family) ?? [];
    list.push(s);
    byFamily.set(s.family, list);
  }
  const lines: string[] = [];
  const order = [...new Set([...families.map((f) => f.name), ...byFamily.keys()])];
  for (const name of order) {
    const list = byFamily.get(name);
    if (!list?.length) continue;
    const f = meta.get(name);
    lines.push(`# HELP ${name} ${f?.help ?? name}`, `# TYPE ${name} ${f?.type ?? "untyped"}`);
    for (const s of list) lines.push(`${seriesText(s.name, s.labels)} ${numberText(s.value)}`);
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/** Histogram series of one observation set: cumulative buckets (le), +Inf, sum and count. */
export function histogramSamples(
  family: string,
  labels: Record<string, string>,
  bounds: readonly number[],
  buckets: readonly number[],
  sum: number,
  count: number,
): Sample[] {
  const out: Sample[] = bounds.map((le, i) => ({
    family,
    name: `${family}_bucket`,
    labels: { ...labels, le: String(le) },
    value: buckets[i] ?? 0,
  }));
  out.push({ family, name: `${family}_bucket`, labels: { ...labels, le: "+Inf" }, value: count });
  out.push({ family, name: `${family}_sum`, labels, value: sum });
  out.push({ family, name: `${family}_count`, labels, value: count });
  return out;
}
