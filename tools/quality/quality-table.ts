// The per-feature quality table of `npm run quality`: freshness, completeness, validation error rate, drift, score; failing rows in red.
import type { QualityPoint } from "../../src/monitoring/quality-read";

const RED = "\u001b[31m";
const GREEN = "\u001b[32m";
const RESET = "\u001b[0m";

export interface QualityAnswer {
  computed_at: string | null;
  count: number;
  failing: number;
  features: QualityPoint[];
}

/** "45s", "12m", "3.5h", "2.0d". */
export function humanSeconds(s: number | null): string {
  if (s === null) return "—";
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86_400) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86_400).toFixed(1)}d`;
}

const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)}%`;

function driftText(d: QualityPoint["drift"]): string {
  if (d.status === "drift" || d.status === "ok") return `${d.status}${d.psi === null ? "" : ` psi ${d.psi.toFixed(2)}`}`;
  return d.status.replaceAll("_", " ");
}

/** The table; `colour` false for pipes and files (NO_COLOR or not a TTY). */
export function renderQualityTable(answer: QualityAnswer, colour: boolean): string {
  const header = ["feature", "entity", "staleness", "stale", "complete", "errors", "drift", "score", "failing"];
  const rows = answer.features.map((q) => [
    q.feature_name,
    q.entity_type,
    humanSeconds(q.staleness_seconds),
    pct(q.stale_share, 0),
    pct(q.completeness),
    pct(q.validation_error_rate, 2),
    driftText(q.drift),
    q.score.toFixed(1),
    q.failing.join(",") || "—",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const out = [line(header), line(widths.map((w) => "-".repeat(w)))];
  rows.forEach((r, i) => {
    const failing = answer.features[i]!.failing.length > 0;
    const text = line(r);
    out.push(colour ? `${failing ? RED : GREEN}${text}${RESET}` : text);
  });
  out.push(
    "",
    `${answer.count} features, ${answer.failing} missing a target; computed ${answer.computed_at ?? "never (the ingest cron has not run yet)"}`,
  );
  return out.join("\n");
}
