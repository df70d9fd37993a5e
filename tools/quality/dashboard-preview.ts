// Renders the dashboard's panels (tools/quality/dashboard.ts) from a Prometheus's query_range answers as one HTML page of SVG charts:
// a preview of monitoring/grafana/feature-store.json with real data where no Grafana is at hand (README's screenshot).
import { PANELS } from "./dashboard";

interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

const COLOURS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#fade2a", "#37872d", "#c4162a"];
const W = 560;
const H = 220;
/** Left margin for the axis labels; the other sides use half of it. */
const PAD = 56;

/** "{{feature_name}}" → the series' label values. */
function legendOf(format: string, metric: Record<string, string>): string {
  return format.replace(/\{\{(\w+)\}\}/g, (_, k: string) => metric[k] ?? "");
}

function formatValue(v: number, unit: string): string {
  if (unit === "percentunit") return `${(100 * v).toFixed(0)}%`;
  if (unit === "s") return v < 1 ? `${(1000 * v).toFixed(1)} ms` : v < 3600 ? `${v.toFixed(0)} s` : `${(v / 3600).toFixed(1)} h`;
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
}

function chart(series: { name: string; points: [number, number][] }[], unit: string, threshold?: number): string {
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0)
    return `<svg width="${W}" height="${H}"><text x="${W / 2}" y="${H / 2}" fill="#888" text-anchor="middle">no data</text></svg>`;
  const xs = pts.map((p) => p[0]);
  const ys = [...pts.map((p) => p[1]), ...(threshold === undefined ? [] : [threshold])];
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
  if (y1 === y0) y1 = y0 + 1;
  y1 += (y1 - y0) * 0.1;
  const sx = (x: number) => PAD + ((x - x0) / Math.max(1, x1 - x0)) * (W - 1.5 * PAD);
  const sy = (y: number) => H - PAD / 2 - ((y - y0) / (y1 - y0)) * (H - PAD);
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const v = y0 + f * (y1 - y0);
      return `<line x1="${PAD}" x2="${W - PAD / 2}" y1="${sy(v)}" y2="${sy(v)}" stroke="#2c3235"/><text x="${PAD - 4}" y="${sy(v) + 4}" fill="#9fa7b3" font-size="10" text-anchor="end">${formatValue(v, unit)}</text>`;
    })
    .join("");
  const lines = series
    .map((s, i) => {
      const d = s.points.map((p, k) => `${k ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
      return `<path d="${d}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.6"/>`;
    })
    .join("");
  const th =
    threshold === undefined
      ? ""
      : `<line x1="${PAD}" x2="${W - PAD / 2}" y1="${sy(threshold)}" y2="${sy(threshold)}" stroke="#f2495c" stroke-dasharray="4 3"/>`;
  return `<svg width="${W}" height="${H}">${grid}${th}${lines}</svg>`;
}

/** The HTML page: one card per panel, its chart and legend (at most 8 series shown). */
export async function renderDashboardPreview(prometheusUrl: string, fromS: number, toS: number, stepS: number): Promise<string> {
  const cards: string[] = [];
  for (const p of PANELS) {
    const series: { name: string; points: [number, number][] }[] = [];
    for (const q of p.queries) {
      const url = `${prometheusUrl}/api/v1/query_range?query=${encodeURIComponent(q.expr)}&start=${fromS}&end=${toS}&step=${stepS}`;
      const answer = (await (await fetch(url)).json()) as { data: { result: RangeSeries[] } };
      for (const r of answer.data.result)
        series.push({
          name: legendOf(q.legend, r.metric),
          points: r.values.map(([t, v]) => [t, Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v)),
        });
    }
    const shown = series.slice(0, 8);
    const legend = shown
      .map((s, i) => {
        const last = s.points.at(-1)?.[1];
        return `<div><span style="color:${COLOURS[i % COLOURS.length]}">━</span> ${s.name} <b>${last === undefined ? "" : formatValue(last, p.unit)}</b></div>`;
      })
      .join("");
    const more = series.length > shown.length ? `<div class="more">+ ${series.length - shown.length} more series</div>` : "";
    cards.push(
      `<section><h2>${p.title}</h2>${chart(shown, p.unit, p.threshold?.value)}<div class="legend">${legend}${more}</div></section>`,
    );
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>EchoTune Feature Store — quality and serving</title><style>
body{background:#111217;color:#d8d9da;font:13px system-ui,sans-serif;margin:16px}
h1{font-size:18px;margin:0 0 12px} main{display:grid;grid-template-columns:repeat(2,${W + 24}px);gap:12px}
section{background:#181b1f;border:1px solid #2c3235;border-radius:4px;padding:8px 12px}
h2{font-size:13px;margin:0 0 4px;font-weight:600} .legend{font-size:11px;columns:2;color:#c7d0d9} .more{color:#888}
</style></head><body><h1>EchoTune Feature Store — quality and serving <small style="color:#888">(monitoring/grafana/feature-store.json's panels, from Prometheus)</small></h1><main>${cards.join("")}</main></body></html>`;
}
