// npm run dataset: point-in-time correct training sets from Postgres, written as CSV or JSONL with a progress bar.
//
//   npm run dataset -- --spine spine.csv --features skip_rate_7d,danceability,time_of_day --out train.csv
//   npm run dataset -- --entities user_1,user_2 --features skip_rate_7d --start 2024-06-01 --end 2024-07-01 --out obs.jsonl
import { createWriteStream } from "node:fs";
import { readFile, rename, rm, stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import type pg from "pg";
import { errorMessage, FeatureStoreError } from "../src/core/errors";
import { CompiledRegistry } from "../src/core/registry";
import {
  DEFAULT_CHUNK_ROWS,
  datasetFormatOf,
  encodeHeader,
  encodeRows,
  openTrainingDataset,
  parseEventTimestamp,
  parseSpineCsv,
  parseSpineJsonl,
  sqlRunner,
  type TrainingInput,
  type TrainingProgress,
  type TrainingSummary,
} from "../src/training";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, runIfMain, UsageError } from "../tools/cli";
import { requireDatabaseUrl } from "../tools/dev-stack";
import { PgConnectError, withPgClient } from "../tools/postgres";
import { ProgressLine } from "../tools/progress";
import { latestSnapshot } from "../tools/registry/registry-db";

const USAGE = `Usage: npm run dataset -- [spine mode | range mode] --features a,b,c [--out FILE] [flags]

Spine mode (point-in-time join, one output row per spine row):
  --spine FILE             .csv (header first) or .jsonl; columns: event_timestamp (ISO 8601 or epoch ms),
                           entity ids as entity_id (type from entity_type or the id prefix) and/or
                           join-key columns (user_id, track_id, artist_id, session_id); every other
                           column is a label, passed through, and the context of on-demand features
Range mode (every observation of the features in a window, with the full vector as of each):
  --entities ID,ID,...     entity ids (type from the prefix, or --entity-type)
  --start T --end T        window [start, end), ISO 8601 or epoch ms

  --features a,b,c         flat names or group:name; stored and on-demand features
  --out FILE               .csv or .jsonl (Parquet is not supported: no maintained writer is installed)
  --with-timestamps        add <feature>__event_timestamp columns (when each value was observed)
  --explain                print the Postgres plan of the first chunk (EXPLAIN ANALYZE); --out becomes optional
  --chunk-rows N           spine rows per query (default ${DEFAULT_CHUNK_ROWS})

Semantics: a row at time T gets, per feature, the latest value observed at or before T (inclusive) whose age
T - observed is at most the feature's ttl_seconds (inclusive), ties broken by latest ingested_at, then id;
otherwise null, or default_value under null_policy default. Never a value from after T.
DATABASE_URL: Postgres holding feature_values and the applied registry (else the running \`npm run dev\` stack).`;

interface CliOptions {
  input: (registry: CompiledRegistry) => Promise<TrainingInput>;
  out: string | undefined;
  explain: boolean;
  withTimestamps: boolean;
  chunkRows: number;
  describeInput: string;
}

function parseCli(argv: string[]): CliOptions | "help" {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      spine: { type: "string" },
      features: { type: "string" },
      out: { type: "string" },
      entities: { type: "string" },
      "entity-type": { type: "string" },
      start: { type: "string" },
      end: { type: "string" },
      "with-timestamps": { type: "boolean", default: false },
      explain: { type: "boolean", default: false },
      "chunk-rows": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return "help";
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const features = (values.features ?? "")
    .split(",")
    .map((f) => f.trim())
    .filter(Boolean);
  if (features.length === 0) throw new UsageError("--features is required (comma-separated names)");
  if (!values.out && !values.explain) throw new UsageError("--out FILE is required (.csv or .jsonl)");
  if (values.out) datasetFormatOf(values.out);
  const chunkRows = values["chunk-rows"] === undefined ? DEFAULT_CHUNK_ROWS : Number(values["chunk-rows"]);
  if (!Number.isInteger(chunkRows) || chunkRows < 1)
    throw new UsageError(`--chunk-rows must be a positive integer, got ${values["chunk-rows"]}`);
  const common = { out: values.out, explain: values.explain ?? false, withTimestamps: values["with-timestamps"] ?? false, chunkRows };

  if (values.spine !== undefined) {
    if (values.entities !== undefined || values.start !== undefined || values.end !== undefined)
      throw new UsageError("--spine and --entities/--start/--end are two different modes; pick one");
    const path = values.spine;
    const lower = path.toLowerCase();
    if (!lower.endsWith(".csv") && !lower.endsWith(".jsonl") && !lower.endsWith(".ndjson"))
      throw new UsageError(`${path}: the spine must be a .csv or .jsonl file`);
    return {
      ...common,
      describeInput: path,
      input: async () => {
        let text: string;
        try {
          text = await readFile(path, "utf8");
        } catch (err) {
          throw new Error(`cannot read the spine ${path}: ${errorMessage(err)}`, { cause: err });
        }
        const spine = lower.endsWith(".csv") ? parseSpineCsv(text) : parseSpineJsonl(text);
        return { spine, features };
      },
    };
  }
  if (values.entities === undefined) throw new UsageError("give a spine (--spine FILE) or a range (--entities ... --start T --end T)");
  const start = values.start === undefined ? null : parseEventTimestamp(values.start);
  const end = values.end === undefined ? null : parseEventTimestamp(values.end);
  if (start === null || end === null) throw new UsageError("range mode needs --start and --end as ISO 8601 or epoch ms");
  const entityIds = values.entities
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  const entityType = values["entity-type"];
  return {
    ...common,
    describeInput: `${entityIds.length} entities, ${new Date(start).toISOString()} .. ${new Date(end).toISOString()}`,
    input: async () => ({ entityIds, features, start, end, ...(entityType ? { entityType } : {}) }),
  };
}

/** Progress per stage (as-of join, then writing), with rate and time left. */
function progressPrinter() {
  const line = new ProgressLine("dataset");
  let stage: TrainingProgress["stage"] | undefined;
  /** Wall clock of the previous update: a new stage starts where the last one ended. */
  let lastUpdateAt = Date.now();
  let stageStarted = lastUpdateAt;
  const label = { join: "as-of join", write: "writing" } as const;
  return {
    update(p: TrainingProgress) {
      if (p.stage !== stage) {
        if (stage !== undefined) line.restart();
        stage = p.stage;
        stageStarted = lastUpdateAt;
      }
      lastUpdateAt = Date.now();
      const stageMs = Math.max(1, lastUpdateAt - stageStarted);
      const rate = Math.round((p.done / stageMs) * 1000);
      const eta = rate > 0 && p.done < p.total ? `  ${Math.ceil((p.total - p.done) / rate)}s left` : "";
      const unit = p.stage === "join" ? "rows x entity types" : "rows";
      line.update(p.done, p.total, `${label[p.stage]} ${p.done}/${p.total} ${unit}  ${rate}/s${eta}`);
    },
    finish: () => line.finish(),
  };
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} kB`;
}

function renderSummary(summary: TrainingSummary, out: string | undefined, bytes: number | undefined, loadSeconds: number): string {
  const refs = Object.keys(summary.features);
  const width = Math.max(7, ...refs.map((r) => r.length));
  const lines = [
    `dataset: ${summary.rows} rows x ${refs.length} features${out ? ` -> ${out}${bytes === undefined ? "" : ` (${formatBytes(bytes)})`}` : ""} in ${summary.seconds.toFixed(2)} s: ${Math.round(summary.rowsPerSecond)} rows/s (spine loaded in ${loadSeconds.toFixed(2)} s)`,
    `  ${"feature".padEnd(width)}  ${"nulls".padStart(9)}  ${"null %".padStart(7)}  ${"defaulted".padStart(9)}  notes`,
  ];
  for (const ref of refs) {
    const f = summary.features[ref]!;
    const pct = summary.rows ? ((f.nulls / summary.rows) * 100).toFixed(1) : "0.0";
    const notes = [
      f.missingRequired ? `${f.missingRequired} empty though null_policy is reject` : "",
      f.transformErrors ? `${f.transformErrors} transform errors (first: ${f.firstTransformError})` : "",
    ].filter(Boolean);
    lines.push(
      `  ${ref.padEnd(width)}  ${String(f.nulls).padStart(9)}  ${`${pct}%`.padStart(7)}  ${String(f.defaulted).padStart(9)}  ${notes.join("; ")}`,
    );
  }
  return lines.join("\n");
}

async function writeChunk(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (text === "" || stream.write(text)) return;
  await new Promise<void>((resolve) => stream.once("drain", resolve));
}

async function run(opts: CliOptions): Promise<void> {
  try {
    await withPgClient(requireDatabaseUrl(), (client) => writeDataset(client, opts));
  } catch (err) {
    if (err instanceof PgConnectError) throw new Error(`cannot connect to Postgres: ${err.message}`, { cause: err });
    throw err;
  }
}

async function writeDataset(client: pg.Client, opts: CliOptions): Promise<void> {
  const snapshot = await latestSnapshot(client);
  if (!snapshot) throw new Error("no registry is applied in this database: run `npm run registry -- apply` first");
  const registry = new CompiledRegistry(snapshot);
  const input = await opts.input(registry);
  const progress = progressPrinter();
  const loadStarted = Date.now();
  process.stderr.write(`dataset: loading ${opts.describeInput} into Postgres (registry ${registry.version})\n`);
  const dataset = await openTrainingDataset(sqlRunner(client), registry, input, {
    chunkRows: opts.chunkRows,
    includeEventTimestamps: opts.withTimestamps,
    onProgress: progress.update,
  });
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  if (opts.explain) {
    console.log(
      `-- ${dataset.totalRows} spine rows, ${dataset.featureColumns.length} feature columns; as-of join plans (first join chunk of each entity type, run with EXPLAIN ANALYZE):`,
    );
    console.log(await dataset.explain(true));
  }
  if (!opts.out) {
    await dataset.close();
    return;
  }
  const format = datasetFormatOf(opts.out);
  // Written beside the target and renamed at the end: a failed run never leaves a half file behind.
  const tmp = `${opts.out}.partial`;
  const stream = createWriteStream(tmp, { encoding: "utf8" });
  const closed = new Promise<void>((resolve, reject) => {
    stream.on("finish", resolve);
    stream.on("error", reject);
  });
  try {
    await writeChunk(stream, encodeHeader(format, dataset.columns));
    for await (const batch of dataset.batches()) await writeChunk(stream, encodeRows(format, dataset.columns, batch));
    stream.end();
    await closed;
  } catch (err) {
    stream.destroy();
    await rm(tmp, { force: true });
    throw err;
  } finally {
    progress.finish();
  }
  await rename(tmp, opts.out);
  const { size } = await stat(opts.out);
  console.log(renderSummary(dataset.summary(), opts.out, size, loadSeconds));
}

async function main(): Promise<number> {
  let opts: CliOptions | "help";
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`dataset: ${errorMessage(err)} (see --help)`);
    return EXIT_USAGE;
  }
  if (opts === "help") {
    console.log(USAGE);
    return EXIT_OK;
  }
  try {
    await run(opts);
    return EXIT_OK;
  } catch (err) {
    console.error(`dataset: ${errorMessage(err)}`);
    return err instanceof FeatureStoreError && err.status < 500 ? EXIT_USAGE : EXIT_FAILED;
  }
}

runIfMain("dataset", import.meta.url, main);
