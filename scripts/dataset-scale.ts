// Scale fixture for training sets: millions of demo-catalog feature values and a 100k-row spine, for `npm run dataset`.
//
// Usage: DATABASE_URL=postgres://.../scratch tsx scripts/dataset-scale.ts [--users N] [--tracks N] [--days N]
//          [--spine-rows N] [--out-dir DIR] [--seed S] [--reset]
// Writes into a scratch database: migrations, the registry from features/ (Postgres only, not published),
// then per stored user/track feature a history following its update_frequency over --days (jittered run
// times, late arrivals), and stream features as bursts at random times; all server-side with
// INSERT ... SELECT generate_series. Refuses a database whose feature_values is not empty unless --reset.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { type FeatureDefinition, frequencySeconds } from "../src/core/definitions";
import { mulberry32 } from "../src/core/random";
import { DEVICE_TYPES, GENRES } from "../src/core/vocabularies";
import { encodeCsvRecord } from "../src/training";
import { EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { migrateDatabase } from "../tools/migrate";
import { DATA_DIR, FEATURES_DIR } from "../tools/paths";
import { withPgClient } from "../tools/postgres";
import { applyCatalog } from "../tools/registry/apply-catalog";

const DEFAULTS = { users: 1000, tracks: 1000, days: 90, spineRows: 100_000, seed: 7 } as const;
const DEFAULT_OUT_DIR = path.join(DATA_DIR, "dataset-scale");
const DAY_S = 86_400;
/** Stream features (update_frequency realtime): pushes per entity and day, at random times. */
const STREAM_UPDATES_PER_DAY = 6;
/** Materialization runs start up to this late after their slot. */
const RUN_JITTER_S = 900;
/** Arrival lag after the event: usually minutes, 1% of values hours late (replays, backfills). */
const LAG_S = 1_800;
const LATE_LAG_S = 6 * 3_600;
const LATE_SHARE = 0.01;
/** Share of categorical observations that differ from the entity's usual value. */
const CATEGORICAL_CHURN = 0.1;
const UNBOUNDED_MAX = 10;

/** The features of the measured run: 14 stored lookups (user and track) and 3 on-demand. */
const SCALE_FEATURES = [
  "user_age_group",
  "device_preferences",
  "listening_hours_weekly",
  "valence",
  "subscription_type",
  "country",
  "favorite_genres",
  "play_queue_length",
  "acousticness",
  "danceability",
  "energy",
  "tempo",
  "popularity_score",
  "genre_primary",
  "time_of_day",
  // Qualified: the spine's device_type column is its context, and a column name must not be taken twice.
  "session_features:device_type",
  "user_track_genre_affinity",
];

const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;
const textArray = (items: readonly string[]) => `array[${items.map(sqlText).join(",")}]::text[]`;

/**
 * One observation's value; `e.id` is the entity id, random() is per row. Params of insertSql: $1 feature,
 * $2 entity type, $3 entities, $4 window start, $5 seconds (cadence, or the window for stream features),
 * $6 id prefix, $7 observations per entity.
 */
function valueSql(d: FeatureDefinition): string {
  const allowed = d.allowed_values ?? [];
  if (d.feature_type === "numerical") {
    const min = d.min_value ?? 0;
    const max = d.max_value ?? min + UNBOUNDED_MAX;
    return d.name === "release_year"
      ? `to_jsonb(${Math.round(min + 60)} + abs(hashtext(e.id)) % 60)`
      : `to_jsonb(round((${min} + random() * ${max - min})::numeric, 4))`;
  }
  if (d.feature_type === "categorical" && allowed.length) {
    // Mostly the entity's own stable value (hash of its id), sometimes another: realistic churn.
    const n = allowed.length;
    return `to_jsonb((${textArray(allowed)})[1 + case when random() < ${CATEGORICAL_CHURN} then floor(random() * ${n})::int else abs(hashtext(e.id || ${sqlText(d.name)})) % ${n} end])`;
  }
  if (d.feature_type === "array" && allowed.length) {
    // Referencing s.k makes the subquery correlated, so every row draws its own subset.
    return `coalesce((select jsonb_agg(v) from unnest(${textArray(allowed)}) as v where random() < 0.25 + 0 * s.k), '[]'::jsonb)`;
  }
  return `to_jsonb(md5(e.id || s.k::text))`;
}

function insertSql(d: FeatureDefinition, stream: boolean): string {
  const ts = stream
    ? `$4::timestamptz + random() * ($5::float8 * interval '1 second')`
    : `$4::timestamptz + s.k * ($5::float8 * interval '1 second') + random() * interval '${RUN_JITTER_S} seconds'`;
  return `insert into feature_values (feature_name, entity_type, entity_id, feature_value, event_timestamp, ingested_at, idempotency_key)
select $1, $2, e.id, ${valueSql(d)}, t.ts,
       t.ts + case when random() < ${LATE_SHARE} then random() * interval '${LATE_LAG_S} seconds' else random() * interval '${LAG_S} seconds' end,
       'scale:' || $1 || ':' || e.id || ':' || s.k
from generate_series(1, $3::int) as u(n)
cross join lateral (select $6 || u.n as id) as e
cross join generate_series(0, $7::int - 1) as s(k)
cross join lateral (select ${ts} as ts) as t`;
}

/** Spine contexts: the device vocabulary plus raw client spellings the device_type transform maps. */
const DEVICES = [...DEVICE_TYPES, "iPhone", "Android"];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      users: { type: "string" },
      tracks: { type: "string" },
      days: { type: "string" },
      "spine-rows": { type: "string" },
      "out-dir": { type: "string" },
      seed: { type: "string" },
      reset: { type: "boolean", default: false },
    },
    strict: true,
  });
  const int = (raw: string | undefined, fallback: number, flag: string) => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer`);
    return n;
  };
  const users = int(values.users, DEFAULTS.users, "users");
  const tracks = int(values.tracks, DEFAULTS.tracks, "tracks");
  const days = int(values.days, DEFAULTS.days, "days");
  const spineRows = int(values["spine-rows"], DEFAULTS.spineRows, "spine-rows");
  const seed = int(values.seed, DEFAULTS.seed, "seed");
  const outDir = values["out-dir"] ?? DEFAULT_OUT_DIR;
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl)
    throw new UsageError("DATABASE_URL is not set: point it at a scratch database (e.g. postgres://root@127.0.0.1:5432/dataset_scale)");

  await migrateDatabase(databaseUrl);
  const applied = await applyCatalog({ dir: FEATURES_DIR, databaseUrl, publish: false, author: "dataset-scale" });
  if (applied.status === "invalid" || applied.status === "refused") throw new Error(`applying features/ failed: ${applied.status}`);
  const defs = applied.loaded.features.filter(
    (d) => (d.entity_type === "user" || d.entity_type === "track") && d.computation_type !== "on_demand",
  );

  const now = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const start = now - days * DAY_S * 1000;
  await withPgClient(databaseUrl, async (client) => {
    const existing = await client.query<{ n: string }>("select count(*) as n from feature_values");
    const count = Number(existing.rows[0]?.n ?? 0);
    if (count > 0 && !values.reset)
      throw new Error(`feature_values already holds ${count} rows: use a scratch database, or --reset to truncate it`);
    if (values.reset) await client.query("truncate feature_values, feature_latest");
    await client.query("select setseed($1)", [(seed % 1000) / 1000]);

    const started = performance.now();
    let total = 0;
    for (const d of defs) {
      const stream = d.update_frequency === "realtime";
      const cadence = stream ? 0 : frequencySeconds(d.update_frequency);
      const steps = stream ? days * STREAM_UPDATES_PER_DAY : Math.floor((days * DAY_S) / cadence);
      const entities = d.entity_type === "user" ? users : tracks;
      const t0 = performance.now();
      const res = await client.query(insertSql(d, stream), [
        d.name,
        d.entity_type,
        entities,
        new Date(start).toISOString(),
        stream ? days * DAY_S : cadence,
        `${d.entity_type}_`,
        steps,
      ]);
      total += res.rowCount ?? 0;
      process.stderr.write(
        `dataset-scale: ${d.name.padEnd(28)} ${String(res.rowCount).padStart(9)} rows (${d.entity_type}, ${stream ? `${STREAM_UPDATES_PER_DAY}/day random` : `every ${d.update_frequency}`}) ${((performance.now() - t0) / 1000).toFixed(1)}s\n`,
      );
    }
    const insertSeconds = (performance.now() - started) / 1000;
    // Sets hint bits and the visibility map now, so the first dataset run is not the one paying for it.
    await client.query("vacuum analyze feature_values");
    const size = await client.query<{ size: string }>("select pg_size_pretty(pg_total_relation_size('feature_values')) as size");

    // The spine: listening events to label (skipped?), at uniform times over the window.
    const rand = mulberry32(seed);
    const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
    const lines = [encodeCsvRecord(["user_id", "track_id", "event_timestamp", "device_type", "track_genre", "skipped"])];
    for (let i = 0; i < spineRows; i++) {
      const ts = start + Math.floor(rand() * (now - start));
      lines.push(
        encodeCsvRecord([
          `user_${1 + Math.floor(rand() * users)}`,
          `track_${1 + Math.floor(rand() * tracks)}`,
          new Date(ts).toISOString(),
          pick(DEVICES),
          pick(GENRES),
          rand() < 0.3 ? 1 : 0,
        ]),
      );
    }
    await mkdir(outDir, { recursive: true });
    const spinePath = path.join(outDir, "spine.csv");
    await writeFile(spinePath, lines.join(""));

    console.log(
      [
        `dataset-scale: ${total} feature values (${defs.length} features, ${users} users, ${tracks} tracks, ${days} days) in ${insertSeconds.toFixed(1)} s` +
          ` (${Math.round(total / insertSeconds)} rows/s); feature_values is ${size.rows[0]?.size}`,
        `dataset-scale: spine of ${spineRows} rows -> ${spinePath}`,
        `next: DATABASE_URL=${databaseUrl} npm run dataset -- --spine ${spinePath} --features ${SCALE_FEATURES.join(",")} --out ${path.join(outDir, "train.csv")}`,
      ].join("\n"),
    );
  });
  return EXIT_OK;
}

runIfMain("dataset-scale", import.meta.url, main);
