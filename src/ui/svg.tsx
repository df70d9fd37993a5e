// Inline SVG of the console: the lineage graph and time-series charts, with a text alternative for screen readers.

const BOX_W = 190;
const BOX_H = 30;
const COL_GAP = 70;
const ROW_GAP = 12;
const PAD = 10;

export interface LineageInput {
  feature: string;
  tables: string[];
  eventSources: string[];
  upstream: string[];
  downstream: string[];
}

interface Node {
  label: string;
  kind: "table" | "event" | "upstream" | "self" | "downstream";
  href?: string;
}

const FILL: Record<Node["kind"], string> = {
  table: "#e8f0fe",
  event: "#fef3e0",
  upstream: "#e6f4ea",
  self: "#14213d",
  downstream: "#f3e8fd",
};

const featureHref = (name: string) => `/ui/features/${encodeURIComponent(name)}`;
const clip = (s: string, n = 26) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Sources (tables, event types) → upstream features → the feature → downstream features, left to right. */
export function LineageGraph(props: LineageInput) {
  const columns: Node[][] = [
    [
      ...props.tables.map((t): Node => ({ label: t, kind: "table" })),
      ...props.eventSources.map((e): Node => ({ label: `event: ${e}`, kind: "event" })),
    ],
    props.upstream.map((f): Node => ({ label: f, kind: "upstream", href: featureHref(f) })),
    [{ label: props.feature, kind: "self" } as Node],
    props.downstream.map((f): Node => ({ label: f, kind: "downstream", href: featureHref(f) })),
  ].filter((col) => col.length > 0);
  const rows = Math.max(...columns.map((c) => c.length));
  const height = PAD * 2 + rows * BOX_H + (rows - 1) * ROW_GAP;
  const width = PAD * 2 + columns.length * BOX_W + (columns.length - 1) * COL_GAP;
  const pos = columns.map((col, ci) =>
    col.map((_, ri) => {
      const top = (height - (col.length * BOX_H + (col.length - 1) * ROW_GAP)) / 2;
      return { x: PAD + ci * (BOX_W + COL_GAP), y: top + ri * (BOX_H + ROW_GAP) };
    }),
  );
  const edges: { x1: number; y1: number; x2: number; y2: number }[] = [];
  for (let ci = 0; ci + 1 < columns.length; ci++)
    for (const a of pos[ci]!)
      for (const b of pos[ci + 1]!) edges.push({ x1: a.x + BOX_W, y1: a.y + BOX_H / 2, x2: b.x, y2: b.y + BOX_H / 2 });
  const describe = [
    props.tables.length ? `tables ${props.tables.join(", ")}` : "",
    props.eventSources.length ? `event sources ${props.eventSources.join(", ")}` : "",
    props.upstream.length ? `upstream features ${props.upstream.join(", ")}` : "",
    props.downstream.length ? `downstream features ${props.downstream.join(", ")}` : "no downstream features",
  ].filter(Boolean);
  return (
    <svg
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      role="img"
      aria-labelledby="lineage-title lineage-desc"
      data-testid="lineage"
    >
      <title id="lineage-title">{`Lineage of ${props.feature}`}</title>
      <desc id="lineage-desc">{describe.join("; ")}</desc>
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" fill="#4a5360" />
        </marker>
      </defs>
      {edges.map((e) => (
        <line x1={e.x1} y1={e.y1} x2={e.x2} y2={e.y2} stroke="#4a5360" stroke-width="1.2" marker-end="url(#arrow)" />
      ))}
      {columns.map((col, ci) =>
        col.map((n, ri) => {
          const p = pos[ci]![ri]!;
          const box = (
            <g>
              <rect x={p.x} y={p.y} width={BOX_W} height={BOX_H} rx="5" fill={FILL[n.kind]} stroke="#4a5360" />
              <text x={p.x + 8} y={p.y + 20} font-size="13" fill={n.kind === "self" ? "#ffffff" : "#1b1f24"} class={`node-${n.kind}`}>
                {clip(n.label)}
              </text>
            </g>
          );
          return n.href ? <a href={n.href}>{box}</a> : box;
        }),
      )}
    </svg>
  );
}

export interface SeriesPoint {
  t: number;
  v: number | null;
}

const CW = 520;
const CH = 160;
const M = { l: 46, r: 10, t: 10, b: 24 };

/** One series over time as a polyline, y from 0 (or the data's min) to its max; a table of the points for screen readers. */
export function LineChart(props: { id: string; title: string; points: SeriesPoint[]; format?: (v: number) => string; threshold?: number }) {
  const fmt = props.format ?? ((v: number) => v.toFixed(2));
  const pts = props.points.filter((p): p is { t: number; v: number } => p.v !== null && Number.isFinite(p.v));
  if (pts.length === 0) return <p class="muted">{`${props.title}: no data yet.`}</p>;
  const t0 = pts[0]!.t;
  const t1 = Math.max(pts[pts.length - 1]!.t, t0 + 1);
  const values = pts.map((p) => p.v).concat(props.threshold ?? []);
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values, lo + 1e-9);
  const x = (t: number) => M.l + ((t - t0) / (t1 - t0)) * (CW - M.l - M.r);
  const y = (v: number) => CH - M.b - ((v - lo) / (hi - lo)) * (CH - M.t - M.b);
  const line = pts.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
  const last = pts[pts.length - 1]!;
  const day = (t: number) => new Date(t).toISOString().slice(5, 16).replace("T", " ");
  return (
    <figure class="card">
      <figcaption>
        <strong>{props.title}</strong> <span class="muted">{`latest ${fmt(last.v)}`}</span>
      </figcaption>
      <svg viewBox={`0 0 ${CW} ${CH}`} width={CW} height={CH} role="img" aria-labelledby={`${props.id}-t`}>
        <title
          id={`${props.id}-t`}
        >{`${props.title} over time: ${pts.length} points from ${fmt(Math.min(...pts.map((p) => p.v)))} to ${fmt(Math.max(...pts.map((p) => p.v)))}, latest ${fmt(last.v)}`}</title>
        <line x1={M.l} y1={CH - M.b} x2={CW - M.r} y2={CH - M.b} stroke="#4a5360" />
        <line x1={M.l} y1={M.t} x2={M.l} y2={CH - M.b} stroke="#4a5360" />
        <text x={M.l - 4} y={M.t + 10} font-size="11" text-anchor="end" fill="#1b1f24">
          {fmt(hi)}
        </text>
        <text x={M.l - 4} y={CH - M.b} font-size="11" text-anchor="end" fill="#1b1f24">
          {fmt(lo)}
        </text>
        <text x={M.l} y={CH - 6} font-size="11" fill="#1b1f24">
          {day(t0)}
        </text>
        <text x={CW - M.r} y={CH - 6} font-size="11" text-anchor="end" fill="#1b1f24">
          {day(t1)}
        </text>
        {props.threshold !== undefined && (
          <line x1={M.l} x2={CW - M.r} y1={y(props.threshold)} y2={y(props.threshold)} stroke="#b00020" stroke-dasharray="4 3" />
        )}
        <polyline points={line} fill="none" stroke="#0b57d0" stroke-width="2" />
        {pts.length === 1 && <circle cx={x(last.t)} cy={y(last.v)} r="3" fill="#0b57d0" />}
      </svg>
    </figure>
  );
}
