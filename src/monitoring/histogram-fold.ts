// Folds new feature_values rows into hourly histograms (incremental, behind a watermark): what drift windows are read from.
import type { Client } from "@neondatabase/serverless";
import type { FeatureDefinition } from "../core/definitions";
import { binOf, quantileEdges } from "../core/drift";
import type { Histogram } from "../core/drift-detector";

/** feature_values rows read per batch, and batches per run: a backlog is caught up over several runs. */
export const FOLD_BATCH_ROWS = 20_000;
export const FOLD_MAX_BATCHES = 5;
/** Numerical features are binned into this many quantile bins of their first values. */
export const NUMERIC_BINS = 20;
/** Histograms are per hour of event time. */
export const HISTOGRAM_BUCKET_MS = 3_600_000;
const WATERMARK = "feature_value_histograms";
/** One quality job folds at a time (two overlapping crons would count rows twice). */
const FOLD_LOCK_KEY = 7_715_015;

export type Binnable = Pick<FeatureDefinition, "name" | "feature_type">;

export interface FoldResult {
  rows: number;
  lastId: number;
  /** False when another job held the lock. */
  folded: boolean;
}

interface ValueRow {
  id: number;
  feature_name: string;
  feature_value: unknown;
  event_ms: number;
  day: string;
}

const isNull = (v: unknown) => v === null || v === undefined;

/** The bins one value adds to (arrays count each element; numbers their bin; other values as text). */
export function binsOfValue(type: FeatureDefinition["feature_type"], value: unknown, edges: readonly number[] | undefined): string[] {
  if (type === "array") return Array.isArray(value) ? value.map((e) => (typeof e === "string" ? e : JSON.stringify(e))) : [];
  if (type === "numerical") return typeof value === "number" && edges ? [String(binOf(value, edges))] : [];
  return [typeof value === "string" ? value : JSON.stringify(value)];
}

export function addToHistogram(h: Histogram, bins: readonly string[]): Histogram {
  const out = { ...h.bins } as Record<string, number>;
  for (const b of bins) out[b] = (out[b] ?? 0) + 1;
  return { bins: out, nulls: h.nulls };
}

export function mergeHistograms(a: Histogram, b: Histogram): Histogram {
  const bins = { ...a.bins } as Record<string, number>;
  for (const [k, n] of Object.entries(b.bins)) bins[k] = (bins[k] ?? 0) + n;
  return { bins, nulls: a.nulls + b.nulls };
}

/** Reads feature_values past the watermark into feature_value_histograms and feature_update_counts, in one transaction per batch. */
export async function foldNewValues(client: Client, features: readonly Binnable[]): Promise<FoldResult> {
  const byName = new Map(features.filter((f) => f.feature_type !== "embedding").map((f) => [f.name, f]));
  let rows = 0;
  let lastId = 0;
  for (let batch = 0; batch < FOLD_MAX_BATCHES; batch++) {
    await client.query("BEGIN");
    try {
      const lock = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1) AS ok", [FOLD_LOCK_KEY]);
      if (!lock.rows[0]?.ok) {
        await client.query("ROLLBACK");
        return { rows, lastId, folded: false };
      }
      const wm = await client.query<{ last_id: number }>("SELECT last_id::float8 AS last_id FROM quality_watermarks WHERE name = $1", [
        WATERMARK,
      ]);
      const from = wm.rows[0]?.last_id ?? 0;
      const res = await client.query<ValueRow>(
        `SELECT id::float8 AS id, feature_name, feature_value, (extract(epoch FROM event_timestamp) * 1000)::float8 AS event_ms,
                to_char(ingested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
           FROM feature_values WHERE id > $1 ORDER BY id LIMIT $2`,
        [from, FOLD_BATCH_ROWS],
      );
      lastId = from;
      if (res.rows.length === 0) {
        await client.query("COMMIT");
        break;
      }
      await foldRows(client, res.rows, byName);
      lastId = res.rows[res.rows.length - 1]!.id;
      rows += res.rows.length;
      await client.query(
        `INSERT INTO quality_watermarks (name, last_id, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at`,
        [WATERMARK, lastId],
      );
      await client.query("COMMIT");
      if (res.rows.length < FOLD_BATCH_ROWS) break;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  }
  return { rows, lastId, folded: true };
}

async function foldRows(client: Client, values: readonly ValueRow[], byName: ReadonlyMap<string, Binnable>): Promise<void> {
  const numeric = [...new Set(values.map((v) => v.feature_name))].filter((n) => byName.get(n)?.feature_type === "numerical");
  const edges = await edgesFor(client, numeric, values);
  const hist = new Map<string, { feature: string; bucket: number; h: Histogram }>();
  const updates = new Map<string, { day: string; feature: string; n: number }>();
  for (const v of values) {
    const u = `${v.day}\u0000${v.feature_name}`;
    const cur = updates.get(u) ?? { day: v.day, feature: v.feature_name, n: 0 };
    cur.n++;
    updates.set(u, cur);
    const def = byName.get(v.feature_name);
    if (!def) continue;
    const bucket = Math.floor(v.event_ms / HISTOGRAM_BUCKET_MS) * HISTOGRAM_BUCKET_MS;
    const key = `${v.feature_name}\u0000${bucket}`;
    const entry = hist.get(key) ?? { feature: v.feature_name, bucket, h: { bins: {}, nulls: 0 } };
    if (isNull(v.feature_value)) entry.h = { ...entry.h, nulls: entry.h.nulls + 1 };
    else entry.h = addToHistogram(entry.h, binsOfValue(def.feature_type, v.feature_value, edges.get(v.feature_name)));
    hist.set(key, entry);
  }
  if (hist.size > 0) {
    const entries = [...hist.values()];
    await client.query(
      `INSERT INTO feature_value_histograms (feature_name, bucket_start, bins, nulls)
       SELECT r.feature_name, to_timestamp(r.bucket_ms / 1000.0), r.bins, r.nulls
         FROM jsonb_to_recordset($1::jsonb) AS r(feature_name text, bucket_ms float8, bins jsonb, nulls bigint)
       ON CONFLICT (feature_name, bucket_start) DO UPDATE SET
         bins = (SELECT coalesce(jsonb_object_agg(k, s), '{}'::jsonb) FROM (
                   SELECT k, sum(n)::float8 AS s FROM (
                     SELECT key AS k, value::float8 AS n FROM jsonb_each_text(feature_value_histograms.bins)
                     UNION ALL SELECT key, value::float8 FROM jsonb_each_text(excluded.bins)) e GROUP BY k) m),
         nulls = feature_value_histograms.nulls + excluded.nulls`,
      [JSON.stringify(entries.map((e) => ({ feature_name: e.feature, bucket_ms: e.bucket, bins: e.h.bins, nulls: e.h.nulls })))],
    );
  }
  await client.query(
    `INSERT INTO feature_update_counts (day, feature_name, updates)
     SELECT r.day::date, r.feature_name, r.n FROM jsonb_to_recordset($1::jsonb) AS r(day text, feature_name text, n bigint)
     ON CONFLICT (day, feature_name) DO UPDATE SET updates = feature_update_counts.updates + excluded.updates`,
    [JSON.stringify([...updates.values()].map((u) => ({ day: u.day, feature_name: u.feature, n: u.n })))],
  );
}

/** Each numerical feature's bin edges; a feature seen for the first time gets the quantiles of its values in this batch. */
async function edgesFor(client: Client, names: readonly string[], values: readonly ValueRow[]): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  if (names.length === 0) return out;
  const res = await client.query<{ feature_name: string; edges: number[] }>(
    "SELECT feature_name, edges FROM feature_drift_edges WHERE feature_name = ANY($1::text[])",
    [names],
  );
  for (const r of res.rows) out.set(r.feature_name, r.edges);
  const fresh: { feature_name: string; edges: number[] }[] = [];
  for (const name of names) {
    if (out.has(name)) continue;
    const sample = values
      .filter((v) => v.feature_name === name && typeof v.feature_value === "number")
      .map((v) => v.feature_value as number);
    if (sample.length === 0) continue;
    const e = quantileEdges(sample, NUMERIC_BINS);
    out.set(name, e);
    fresh.push({ feature_name: name, edges: e });
  }
  if (fresh.length)
    await client.query(
      `INSERT INTO feature_drift_edges (feature_name, edges)
       SELECT r.feature_name, r.edges FROM jsonb_to_recordset($1::jsonb) AS r(feature_name text, edges jsonb) ON CONFLICT DO NOTHING`,
      [JSON.stringify(fresh)],
    );
  return out;
}

/** The merged histogram of a feature over [fromMs, toMs). */
export async function histogramOf(client: Client, feature: string, fromMs: number, toMs: number): Promise<Histogram> {
  const res = await client.query<{ bins: Record<string, number>; nulls: number }>(
    `SELECT bins, nulls::float8 AS nulls FROM feature_value_histograms
      WHERE feature_name = $1 AND bucket_start >= to_timestamp($2 / 1000.0) AND bucket_start < to_timestamp($3 / 1000.0)`,
    [feature, fromMs, toMs],
  );
  return res.rows.reduce<Histogram>((acc, r) => mergeHistograms(acc, { bins: r.bins, nulls: r.nulls }), { bins: {}, nulls: 0 });
}

/** A pinned reference (npm run drift -- snapshot), if there is one. */
export async function snapshotOf(client: Client, name: string, feature: string): Promise<Histogram | undefined> {
  const res = await client.query<{ bins: Record<string, number>; nulls: number }>(
    "SELECT bins, nulls::float8 AS nulls FROM feature_drift_references WHERE name = $1 AND feature_name = $2",
    [name, feature],
  );
  const r = res.rows[0];
  return r ? { bins: r.bins, nulls: r.nulls } : undefined;
}
