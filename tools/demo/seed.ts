// Seeds the EchoTune demo source tables (artists, tracks, users, listening_events, user_actions) from the catalog generator.
//
// Idempotent: the five demo tables are truncated (RESTART IDENTITY) and refilled in one transaction, so a re-run
// with the same options (and the same hour, which fixes "now") yields identical rows. --reset also clears the
// feature data derived from them (feature_values, feature_latest, materialization_runs); the registry is kept.
// Plain SQL only (TRUNCATE, INSERT ... SELECT FROM unnest) so it also runs against an embedded PGlite server.
import type pg from "pg";
import { PgConnectError, redactUrl, withPgClient } from "../postgres";
import {
  type ArtistRow,
  type CatalogOptions,
  createCatalog,
  type ListeningEventRow,
  type TrackRow,
  type UserActionRow,
  type UserRow,
} from "./catalog-generator";

export const DEMO_TABLES = ["artists", "tracks", "users", "listening_events", "user_actions"] as const;
export type DemoTable = (typeof DEMO_TABLES)[number];

/** Tables computed from the demo sources; only cleared with --reset, since they are not demo data themselves. */
const DERIVED_FEATURE_TABLES = ["feature_values", "feature_latest", "materialization_runs"] as const;

export const DEFAULT_SEED_SIZES = { users: 200, tracks: 1000, artists: 150, events: 20000 } as const;

/**
 * Rows per INSERT. unnest() takes one array parameter per column, so the 65535-parameter limit never applies;
 * the bound keeps each statement a few hundred kB, which PGlite's single-threaded server handles comfortably.
 */
const ROWS_PER_STATEMENT = 2000;

export interface SeedOptions extends CatalogOptions {
  /** Also clear derived feature data (feature_values, feature_latest, materialization_runs). */
  reset?: boolean;
}

export interface SeedProgress {
  table: DemoTable;
  tableRows: number;
  tableTotal: number;
  doneRows: number;
  totalRows: number;
  elapsedMs: number;
}

export interface SeedSummary {
  rows: Record<DemoTable, number>;
  seconds: number;
  seed: number | string;
  /** The catalog's reference time (epoch ms): all generated timestamps lie before it. */
  now: number;
}

// ---------------------------------------------------------------- column mapping

type PgType = "text" | "int4" | "float4" | "bool" | "timestamptz" | "text[]";
type Cell = string | number | boolean | Date | null | readonly string[];
type Param = string | number | boolean | null;

interface Column<Row> {
  name: string;
  type: PgType;
  value: (row: Row) => Cell;
}

const col = <Row>(name: string, type: PgType, value: (row: Row) => Cell): Column<Row> => ({ name, type, value });

const ARTIST_COLUMNS: readonly Column<ArtistRow>[] = [
  col("id", "text", (r) => r.id),
  col("name", "text", (r) => r.name),
  col("genres", "text[]", (r) => r.genres),
  col("country", "text", (r) => r.country),
  col("debut_year", "int4", (r) => r.debutYear),
  col("followers", "int4", (r) => r.followers),
];

const TRACK_COLUMNS: readonly Column<TrackRow>[] = [
  col("id", "text", (r) => r.id),
  col("artist_id", "text", (r) => r.artistId),
  col("featured_artist_ids", "text[]", (r) => r.featuredArtistIds),
  col("title", "text", (r) => r.title),
  col("genre_primary", "text", (r) => r.genrePrimary),
  col("genre_secondary", "text", (r) => r.genreSecondary),
  col("release_year", "int4", (r) => r.releaseYear),
  col("language", "text", (r) => r.language),
  col("duration_ms", "int4", (r) => r.durationMs),
  col("danceability", "float4", (r) => r.danceability),
  col("energy", "float4", (r) => r.energy),
  col("valence", "float4", (r) => r.valence),
  col("tempo", "float4", (r) => r.tempo),
  col("acousticness", "float4", (r) => r.acousticness),
];

const USER_COLUMNS: readonly Column<UserRow>[] = [
  col("id", "text", (r) => r.id),
  col("birth_year", "int4", (r) => r.birthYear),
  col("country", "text", (r) => r.country),
  col("subscription_type", "text", (r) => r.subscriptionType),
  col("signup_at", "timestamptz", (r) => r.signupAt),
];

const EVENT_COLUMNS: readonly Column<ListeningEventRow>[] = [
  col("user_id", "text", (r) => r.userId),
  col("track_id", "text", (r) => r.trackId),
  col("session_id", "text", (r) => r.sessionId),
  col("started_at", "timestamptz", (r) => r.startedAt),
  col("ms_played", "int4", (r) => r.msPlayed),
  col("skipped", "bool", (r) => r.skipped),
  col("replayed", "bool", (r) => r.replayed),
  col("source", "text", (r) => r.source),
  col("device_type", "text", (r) => r.deviceType),
];

const ACTION_COLUMNS: readonly Column<UserActionRow>[] = [
  col("user_id", "text", (r) => r.userId),
  col("action", "text", (r) => r.action),
  col("track_id", "text", (r) => r.trackId),
  col("occurred_at", "timestamptz", (r) => r.occurredAt),
];

/** Postgres array literal: `{"a","b"}` with `"` and `\` escaped. */
function arrayLiteral(items: readonly string[]): string {
  return `{${items.map((item) => `"${item.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(",")}}`;
}

function toParam(cell: Cell): Param {
  if (cell === null) return null;
  if (cell instanceof Date) return cell.toISOString(); // ISO in UTC: no dependence on the client's time zone
  if (Array.isArray(cell)) return arrayLiteral(cell);
  return cell as Param;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * INSERT ... SELECT FROM unnest($1::t1[], $2::t2[], ...): one parameter per column whatever the row count.
 * Array-typed columns travel as text[] of array literals and are cast back per row, because unnest() would
 * flatten a two-dimensional array (and Postgres arrays cannot be ragged).
 */
function insertSql<Row>(table: DemoTable, columns: readonly Column<Row>[]): string {
  const names = columns.map((c) => quoteIdent(c.name)).join(", ");
  const args = columns.map((c, i) => `$${i + 1}::${c.type === "text[]" ? "text" : c.type}[]`).join(", ");
  const aliases = columns.map((_, i) => `c${i}`);
  const select = columns.map((c, i) => (c.type === "text[]" ? `u.c${i}::text[]` : `u.c${i}`)).join(", ");
  return `INSERT INTO ${quoteIdent(table)} (${names}) SELECT ${select} FROM unnest(${args}) AS u(${aliases.join(", ")})`;
}

function columnParams<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): Param[][] {
  return columns.map((c) => rows.map((row) => toParam(c.value(row))));
}

function* chunksOf<T>(items: readonly T[], size: number): Generator<T[], void, undefined> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

// ---------------------------------------------------------------- seeding

export async function seedDemoCatalog(
  databaseUrl: string,
  opts: SeedOptions,
  onProgress?: (progress: SeedProgress) => void,
): Promise<SeedSummary> {
  const started = performance.now();
  const catalog = createCatalog(opts);
  const totals: Record<DemoTable, number> = {
    artists: catalog.counts.artists,
    tracks: catalog.counts.tracks,
    users: catalog.counts.users,
    listening_events: catalog.counts.listeningEvents,
    user_actions: catalog.counts.userActions,
  };
  const totalRows = DEMO_TABLES.reduce((acc, t) => acc + totals[t], 0);
  const written: Record<DemoTable, number> = { artists: 0, tracks: 0, users: 0, listening_events: 0, user_actions: 0 };
  let doneRows = 0;
  const report = (table: DemoTable): void =>
    onProgress?.({
      table,
      tableRows: written[table],
      tableTotal: totals[table],
      doneRows,
      totalRows,
      elapsedMs: performance.now() - started,
    });

  const seed = async (client: pg.Client): Promise<void> => {
    const tables: readonly string[] = opts.reset ? [...DEMO_TABLES, ...DERIVED_FEATURE_TABLES] : DEMO_TABLES;
    const missing: string[] = [];
    for (const table of tables) {
      const found = await client.query<{ oid: string | null }>("SELECT to_regclass($1)::text AS oid", [table]);
      if (!found.rows[0]?.oid) missing.push(table);
    }
    if (missing.length > 0) {
      throw new Error(`missing table(s) ${missing.join(", ")}: apply the migrations (drizzle/0000_init.sql) first`);
    }

    /**
     * Sends one chunk per statement, generating the next chunk while the previous statement runs: the query is
     * awaited only after the CPU work for the following one is done, so generation and insertion overlap.
     */
    async function load<Row>(table: DemoTable, columns: readonly Column<Row>[], chunks: Iterable<Row[]>): Promise<void> {
      const text = insertSql(table, columns);
      report(table);
      let inFlight: { promise: Promise<unknown>; rows: number } | null = null;
      const settle = async (): Promise<void> => {
        if (!inFlight) return;
        await inFlight.promise;
        written[table] += inFlight.rows;
        doneRows += inFlight.rows;
        inFlight = null;
        report(table);
      };
      for (const rows of chunks) {
        if (rows.length === 0) continue;
        const params = columnParams(columns, rows);
        await settle();
        inFlight = { promise: client.query(text, params), rows: rows.length };
      }
      await settle();
    }

    await client.query("BEGIN");
    try {
      await client.query(`TRUNCATE ${tables.map(quoteIdent).join(", ")} RESTART IDENTITY CASCADE`);
      await load("artists", ARTIST_COLUMNS, chunksOf(catalog.artists, ROWS_PER_STATEMENT));
      await load("tracks", TRACK_COLUMNS, chunksOf(catalog.tracks, ROWS_PER_STATEMENT));
      await load("users", USER_COLUMNS, chunksOf(catalog.users, ROWS_PER_STATEMENT));
      await load("listening_events", EVENT_COLUMNS, catalog.listeningEvents(ROWS_PER_STATEMENT));
      await load("user_actions", ACTION_COLUMNS, catalog.userActions(ROWS_PER_STATEMENT));
      await client.query("COMMIT");
    } catch (error) {
      // The original error is what matters; a failing ROLLBACK (e.g. connection gone) is attached, not hidden.
      await client.query("ROLLBACK").catch((rollbackError: unknown) => {
        (error as Error & { rollbackError?: unknown }).rollbackError = rollbackError;
      });
      throw error;
    }
    // Fresh statistics so the feature queries that follow get sensible plans straight away.
    await client.query(`ANALYZE ${DEMO_TABLES.map(quoteIdent).join(", ")}`);
  };
  try {
    await withPgClient(databaseUrl, seed);
  } catch (error) {
    if (error instanceof PgConnectError) throw new Error(`cannot connect to ${redactUrl(databaseUrl)}: ${error.message}`, { cause: error });
    throw error;
  }

  return {
    rows: written,
    seconds: (performance.now() - started) / 1000,
    seed: catalog.options.seed,
    now: catalog.options.now,
  };
}
