// npm run demo:seed: seeds the EchoTune demo source tables of DATABASE_URL (tools/demo/seed.ts) with a progress bar.
//
// Usage: tsx scripts/demo-seed.ts [--users N --tracks N --artists N --events N --seed S] [--reset]
import { parseArgs } from "node:util";
import { EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { DEFAULT_CATALOG_SEED } from "../tools/demo/catalog-generator";
import { DEFAULT_SEED_SIZES, DEMO_TABLES, type SeedOptions, type SeedSummary, seedDemoCatalog } from "../tools/demo/seed";
import { redactUrl } from "../tools/postgres";
import { ProgressLine } from "../tools/progress";

const MS_PER_HOUR = 3_600_000;

const USAGE = `usage: tsx scripts/demo-seed.ts [--users N] [--tracks N] [--artists N] [--events N] [--seed S] [--reset]
  defaults: --users ${DEFAULT_SEED_SIZES.users} --tracks ${DEFAULT_SEED_SIZES.tracks} --artists ${DEFAULT_SEED_SIZES.artists} --events ${DEFAULT_SEED_SIZES.events} --seed ${DEFAULT_CATALOG_SEED}
  --reset   also clear derived feature data (feature_values, feature_latest, materialization_runs)
  env: DATABASE_URL (required)`;

function parseCount(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${flag} must be a non-negative integer, got "${raw}"`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new UsageError(`--${flag} is too large: ${raw}`);
  return value;
}

function parseSeedArgs(argv: readonly string[]): SeedOptions | "help" {
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

runIfMain("demo-seed", import.meta.url, async () => {
  const parsed = parseSeedArgs(process.argv.slice(2));
  if (parsed === "help") {
    console.log(USAGE);
    return EXIT_OK;
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new UsageError("DATABASE_URL is not set (e.g. DATABASE_URL=postgres://root@127.0.0.1:5432/echotune)");
  const progress = new ProgressLine("demo-seed");
  let summary: SeedSummary;
  try {
    summary = await seedDemoCatalog(databaseUrl, parsed, (p) =>
      progress.update(p.doneRows, p.totalRows, `${p.table} ${p.tableRows}/${p.tableTotal}  ${(p.elapsedMs / 1000).toFixed(1)}s`),
    );
  } finally {
    progress.finish();
  }
  const width = Math.max(...DEMO_TABLES.map((t) => t.length));
  const lines = DEMO_TABLES.map((t) => `  ${t.padEnd(width)}  ${String(summary.rows[t]).padStart(10)}`);
  console.log(
    `demo-seed: seeded ${redactUrl(databaseUrl)} in ${summary.seconds.toFixed(2)}s ` +
      `(seed ${summary.seed}, now ${new Date(summary.now).toISOString()}${parsed.reset ? ", derived feature data cleared" : ""})\n${lines.join("\n")}`,
  );
  return EXIT_OK;
});
