// Seeds the EchoTune demo source tables (artists, tracks, users, listening_events, user_actions) from the catalog generator.
//
// Usage: tsx scripts/demo-seed.ts [--users N --tracks N --artists N --events N --seed S] [--reset]
// Idempotent: the five demo tables are truncated (RESTART IDENTITY) and refilled in one transaction, so a re-run
// with the same options (and the same hour, which fixes "now") yields identical rows. --reset also clears the
// feature data derived from them (feature_values, feature_latest, materialization_runs); the registry is kept.
// Plain SQL only (TRUNCATE, INSERT ... SELECT FROM unnest) so it also runs against an embedded PGlite server.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import {
  type ArtistRow,
  type CatalogOptions,
  createCatalog,
  DEFAULT_CATALOG_SEED,
  type ListeningEventRow,
  type TrackRow,
  type UserActionRow,
  type UserRow,
} from "../src/demo/catalog-generator";

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
const CONNECT_TIMEOUT_MS = 10_000;
const MS_PER_HOUR = 3_600_000;

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

/** Hides the password when a connection URL ends up in a message. */
export function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = "***";
    return url.toString();
  } catch (error) {
    // Not a URL (e.g. a key=value connection string): say nothing of its contents.
    return `<unparseable connection string: ${(error as Error).message}>`;
  }
}

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

  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot connect to ${redactUrl(databaseUrl)}: ${(error as Error).message}`, { cause: error });
  }

  try {
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
  } finally {
    await client.end();
  }

  return {
    rows: written,
    seconds: (performance.now() - started) / 1000,
    seed: catalog.options.seed,
    now: catalog.options.now,
  };
}

// ---------------------------------------------------------------- CLI

const PROGRESS_BAR_WIDTH = 30;
const PLAIN_PROGRESS_STEP_PERCENT = 10;

/** Progress on stderr: one redrawn line on a terminal, a plain line every 10% when piped (CI logs). */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): {
  update: (p: SeedProgress) => void;
  finish: () => void;
} {
  const tty = stream.isTTY === true;
  let nextPlainPercent = 0;
  let drawn = false;
  return {
    update(p) {
      const fraction = p.totalRows > 0 ? p.doneRows / p.totalRows : 1;
      const percent = Math.floor(fraction * 100);
      const detail = `${p.table} ${p.tableRows}/${p.tableTotal}  ${(p.elapsedMs / 1000).toFixed(1)}s`;
      if (tty) {
        const filled = Math.round(fraction * PROGRESS_BAR_WIDTH);
        const bar = "#".repeat(filled) + ".".repeat(PROGRESS_BAR_WIDTH - filled);
        const columns = stream.columns ?? 100;
        stream.write(`\r[${bar}] ${String(percent).padStart(3)}% ${detail}`.slice(0, columns - 1).padEnd(columns - 1));
        drawn = true;
      } else if (percent >= nextPlainPercent) {
        stream.write(`demo-seed: ${String(percent).padStart(3)}% ${detail}\n`);
        nextPlainPercent = (Math.floor(percent / PLAIN_PROGRESS_STEP_PERCENT) + 1) * PLAIN_PROGRESS_STEP_PERCENT;
      }
    },
    finish() {
      if (tty && drawn) stream.write("\n");
    },
  };
}

const USAGE = `usage: tsx scripts/demo-seed.ts [--users N] [--tracks N] [--artists N] [--events N] [--seed S] [--reset]
  defaults: --users ${DEFAULT_SEED_SIZES.users} --tracks ${DEFAULT_SEED_SIZES.tracks} --artists ${DEFAULT_SEED_SIZES.artists} --events ${DEFAULT_SEED_SIZES.events} --seed ${DEFAULT_CATALOG_SEED}
  --reset   also clear derived feature data (feature_values, feature_latest, materialization_runs)
  env: DATABASE_URL (required)`;

function parseCount(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`--${flag} must be a non-negative integer, got "${raw}"`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`--${flag} is too large: ${raw}`);
  return value;
}

export function parseSeedArgs(argv: readonly string[]): SeedOptions | "help" {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      users: { type: "string" },
      tracks: { type: "string" },
      artists: { type: "string" },
      events: { type: "string" },
      seed: { type: "string" },
      reset: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const seedRaw = values.seed;
  return {
    users: parseCount("users", values.users, DEFAULT_SEED_SIZES.users),
    tracks: parseCount("tracks", values.tracks, DEFAULT_SEED_SIZES.tracks),
    artists: parseCount("artists", values.artists, DEFAULT_SEED_SIZES.artists),
    events: parseCount("events", values.events, DEFAULT_SEED_SIZES.events),
    // Numeric seeds stay numbers so `--seed 7` and seedDemoCatalog({ seed: 7 }) produce the same catalog.
    seed: seedRaw === undefined ? DEFAULT_CATALOG_SEED : /^-?\d+$/.test(seedRaw) ? Number(seedRaw) : seedRaw,
    // Rounded to the hour: re-running within the hour reproduces the data exactly, yet it stays "recent".
    now: Math.floor(Date.now() / MS_PER_HOUR) * MS_PER_HOUR,
    reset: values.reset,
  };
}

async function main(): Promise<void> {
  const parsed = parseSeedArgs(process.argv.slice(2));
  if (parsed === "help") {
    console.log(USAGE);
    return;
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error("DATABASE_URL is not set (e.g. DATABASE_URL=postgres://root@127.0.0.1:5432/echotune)");
  const progress = progressPrinter();
  let summary: SeedSummary;
  try {
    summary = await seedDemoCatalog(databaseUrl, parsed, progress.update);
  } finally {
    progress.finish();
  }
  const width = Math.max(...DEMO_TABLES.map((t) => t.length));
  const lines = DEMO_TABLES.map((t) => `  ${t.padEnd(width)}  ${String(summary.rows[t]).padStart(10)}`);
  console.log(
    `demo-seed: seeded ${redactUrl(databaseUrl)} in ${summary.seconds.toFixed(2)}s ` +
      `(seed ${summary.seed}, now ${new Date(summary.now).toISOString()}${parsed.reset ? ", derived feature data cleared" : ""})\n${lines.join("\n")}`,
  );
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  main().catch((error: unknown) => {
    console.error(`demo-seed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
