// Point-in-time correct training sets (the design's get_training_dataset, Feast's get_historical_features).
//
// Spine mode: for each spine row and feature, the value the feature had as of the row's event
// time (see point-in-time-sql.ts for the exact rule), run in Postgres. Range mode: every
// observation of the requested features for some entities in [start, end), each as a row with
// the full feature vector as of that moment. Stored values missing or older than their max age are
// null, then the feature's null policy applies as in serving (default -> default_value; reject
// leaves the cell empty and counts it, since a training set has no request to fail). On-demand
// features run the serving transforms with the row's columns as context and its time as `now`. Aggregation
// features are computed from raw_events as the entity's Durable Object served them at the row's time (aggregates.ts).
import type { FeatureDefinition } from "../core/definitions";
import { errorMessage, FeatureStoreError } from "../core/errors";
import type { TimedValue } from "../core/keys";
import { log } from "../core/log";
import type { CompiledRegistry } from "../core/registry";
import { runTransform } from "../core/transforms";
import { type AggregateRow, aggregateCells } from "./aggregates";
import { type FeaturePlan, planFeatures, resolveSpineIds, typedEntities } from "./plan";
import {
  createSlotOrderSql,
  createSlotResultSql,
  createSpineTableSql,
  insertRangeSpineSql,
  insertSpineSql,
  type OutputQuery,
  outputQuery,
  type SlotJoinQuery,
  slotJoinQuery,
  slotOrderTable,
  slotResultTable,
  spineTableName,
} from "./point-in-time-sql";
import { rowContext, type Spine } from "./spine";
import type { SqlRunner } from "./sql-runner";

/** Spine rows per output query: big enough to amortise a round trip, small enough to stream. */
export const DEFAULT_CHUNK_ROWS = 5_000;
/** Rows per as-of join statement (written to a result table, so no rows travel back). */
export const DEFAULT_JOIN_CHUNK_ROWS = 10_000;
/** Spine rows per INSERT ... unnest statement. */
const SPINE_INSERT_ROWS = 10_000;
/** Suffix of the optional per-feature observation-time columns. */
export const EVENT_TIMESTAMP_SUFFIX = "__event_timestamp";
export const RANGE_COLUMNS = ["entity_type", "entity_id", "event_timestamp"] as const;

export type TrainingInput =
  | { spine: Spine; features: readonly string[] }
  | {
      entityIds: readonly string[];
      /** Type of every id; else inferred per id from its prefix. */
      entityType?: string;
      features: readonly string[];
      /** Window [start, end), epoch ms. */
      start: number;
      end: number;
    };

export interface TrainingOptions {
  /** Spine rows per output query. */
  chunkRows?: number;
  /** Rows per as-of join statement; smaller means finer progress. */
  joinChunkRows?: number;
  /** Adds `<feature>__event_timestamp` columns: when each stored value was observed (null when none). */
  includeEventTimestamps?: boolean;
  onProgress?: (progress: TrainingProgress) => void;
}

export interface TrainingProgress {
  /** join: as-of lookups in Postgres, per entity type (rows x types); write: rows read out in spine order. */
  stage: "join" | "write";
  done: number;
  total: number;
  elapsedMs: number;
}

export interface FeatureSummary {
  /** Cells left null after the null policy. */
  nulls: number;
  /** Cells filled with the default_value (null_policy default). */
  defaulted: number;
  /** Null cells of null_policy reject features, which serving would refuse to serve. */
  missingRequired: number;
  /** On-demand transforms that threw; the cell is null as in serving. */
  transformErrors: number;
  firstTransformError?: string;
}

export interface TrainingSummary {
  rows: number;
  features: Record<string, FeatureSummary>;
  seconds: number;
  rowsPerSecond: number;
}

export type DatasetRow = Record<string, unknown>;

/** A validated request: everything that can be wrong with it is reported before Postgres is touched. */
export interface PreparedTrainingSet {
  registry: CompiledRegistry;
  plan: FeaturePlan;
  columns: string[];
  featureColumns: string[];
  options: Required<Pick<TrainingOptions, "chunkRows" | "joinChunkRows" | "includeEventTimestamps">>;
  source:
    | { mode: "spine"; spine: Spine; ids: (string | undefined)[][] }
    | { mode: "range"; entities: { type: string; id: string }[]; start: number; end: number };
}

export function prepareTrainingSet(registry: CompiledRegistry, input: TrainingInput, options: TrainingOptions = {}): PreparedTrainingSet {
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const joinChunkRows = options.joinChunkRows ?? DEFAULT_JOIN_CHUNK_ROWS;
  for (const [name, n] of [
    ["chunkRows", chunkRows],
    ["joinChunkRows", joinChunkRows],
  ] as const)
    if (!Number.isInteger(n) || n < 1) throw new FeatureStoreError("bad_request", `${name} must be a positive integer, got ${n}`);
  const includeEventTimestamps = options.includeEventTimestamps ?? false;
  const plan = planFeatures(registry, input.features);
  const featureColumns = plan.outputs.flatMap((o) =>
    includeEventTimestamps && o.lookup !== undefined ? [o.ref, `${o.ref}${EVENT_TIMESTAMP_SUFFIX}`] : [o.ref],
  );
  const common = { registry, plan, featureColumns, options: { chunkRows, joinChunkRows, includeEventTimestamps } };
  if ("spine" in input) {
    // A context column often shares its feature's name (device_type reads context.device_type):
    // both are kept by requesting the feature by its qualified name, which is then its column.
    const clash = plan.outputs.filter(
      (o) =>
        input.spine.columns.includes(o.ref) ||
        (includeEventTimestamps && input.spine.columns.includes(`${o.ref}${EVENT_TIMESTAMP_SUFFIX}`)),
    );
    if (clash.length) {
      const advice = clash.map((o) => `${o.ref} (request it as ${o.def.group}:${o.def.name})`).join(", ");
      throw new FeatureStoreError("bad_request", `Spine column and feature share a name: ${advice}, or rename the column`, {
        columns: clash.map((o) => o.ref),
      });
    }
    const ids = resolveSpineIds(registry, plan, input.spine);
    return { ...common, columns: [...input.spine.columns, ...featureColumns], source: { mode: "spine", spine: input.spine, ids } };
  }
  if (!Number.isFinite(input.start) || !Number.isFinite(input.end) || input.start >= input.end)
    throw new FeatureStoreError(
      "bad_request",
      `The window needs start < end, got ${new Date(input.start).toISOString()} .. ${new Date(input.end).toISOString()}`,
    );
  const entities = typedEntities(registry, plan, input.entityIds, input.entityType);
  return {
    ...common,
    columns: [...RANGE_COLUMNS, ...featureColumns],
    source: { mode: "range", entities, start: input.start, end: input.end },
  };
}

const emptySummary = (): FeatureSummary => ({ nulls: 0, defaulted: 0, missingRequired: 0, transformErrors: 0 });

type ResultRow = Record<string, unknown> & { row_id: number };

interface SlotJob {
  slot: number;
  entityType: string;
  rows: number;
  query: SlotJoinQuery;
}

/**
 * A training set loaded into Postgres and read out in chunks, inside one repeatable-read
 * transaction on the runner's connection (so do not open one inside a transaction of your own);
 * close(), or reading batches() to the end, drops its tables and ends the transaction.
 */
export class TrainingDataset {
  readonly columns: readonly string[];
  readonly featureColumns: readonly string[];
  readonly totalRows: number;
  private readonly stats: Record<string, FeatureSummary> = {};
  private readonly output: OutputQuery;
  /** Lookup indexes per id slot. */
  private readonly slotLookups: number[][];
  private slots: SlotJob[] | undefined;
  private joined = false;
  private emitted = 0;
  private finishedAt: number | undefined;
  private closed = false;

  private constructor(
    private readonly runner: SqlRunner,
    private readonly prepared: PreparedTrainingSet,
    private readonly table: string,
    totalRows: number,
    private readonly startedAt: number,
    private readonly onProgress: TrainingOptions["onProgress"],
  ) {
    this.columns = prepared.columns;
    this.featureColumns = prepared.featureColumns;
    this.totalRows = totalRows;
    for (const o of prepared.plan.outputs) this.stats[o.ref] = emptySummary();
    this.slotLookups = prepared.plan.entityTypes.map((_, slot) =>
      prepared.plan.lookups.flatMap((l, index) => (l.slot === slot ? [index] : [])),
    );
    this.output = outputQuery(table, this.slotLookups, prepared.source.mode === "range");
  }

  /** Creates and fills the spine table (analysed, so the planner knows its size). */
  static async open(
    runner: SqlRunner,
    prepared: PreparedTrainingSet,
    onProgress?: TrainingOptions["onProgress"],
  ): Promise<TrainingDataset> {
    const startedAt = Date.now();
    const table = spineTableName();
    const slots = prepared.plan.entityTypes.length;
    const source = prepared.source;
    // One snapshot for the whole build: values ingested meanwhile never show up in some chunks only.
    await runner.query("begin isolation level repeatable read");
    try {
      await runner.query(createSpineTableSql(table, slots, source.mode === "range"));
      let total: number;
      if (source.mode === "spine") {
        const insert = insertSpineSql(table, slots);
        const rows = source.spine.rows;
        for (let lo = 0; lo < rows.length; lo += SPINE_INSERT_ROWS) {
          const hi = Math.min(rows.length, lo + SPINE_INSERT_ROWS);
          const rowIds: number[] = [];
          const times: string[] = [];
          const ids: (string | null)[][] = Array.from({ length: slots }, () => []);
          for (let i = lo; i < hi; i++) {
            rowIds.push(i + 1);
            times.push(new Date(rows[i]!.ts).toISOString());
            const rowIdsBySlot = source.ids[i]!;
            for (let k = 0; k < slots; k++) ids[k]!.push(rowIdsBySlot[k] ?? null);
          }
          await runner.query(insert, [rowIds, times, ...ids]);
        }
        total = rows.length;
      } else {
        const storedNames = prepared.plan.outputs.filter((o) => o.lookup !== undefined).map((o) => o.def.name);
        await runner.query(insertRangeSpineSql(table, prepared.plan.entityTypes), [
          source.entities.map((e) => e.type),
          source.entities.map((e) => e.id),
          storedNames,
          new Date(source.start).toISOString(),
          new Date(source.end).toISOString(),
          ...prepared.plan.entityTypes,
        ]);
        const [count] = await runner.query<{ n: number }>(`select count(*)::int as n from ${table}`);
        total = count?.n ?? 0;
      }
      // Temporary tables are never auto-analysed; without statistics the join order is a guess.
      await runner.query(`analyze ${table}`);
      return new TrainingDataset(runner, prepared, table, total, startedAt, onProgress);
    } catch (err) {
      await endTransaction(runner, "rollback");
      throw err;
    }
  }

  /** Per entity type with lookups: its rows copied in (id, time) order, and an empty result table. */
  private async prepareSlots(): Promise<SlotJob[]> {
    if (this.slots) return this.slots;
    const jobs: SlotJob[] = [];
    for (const [slot, indexes] of this.slotLookups.entries()) {
      if (indexes.length === 0) continue;
      for (const statement of createSlotOrderSql(this.table, slot)) await this.runner.query(statement);
      const lookups = indexes.map((index) => ({ index, lookup: this.prepared.plan.lookups[index]! }));
      await this.runner.query(createSlotResultSql(this.table, slot, lookups));
      const [count] = await this.runner.query<{ n: number }>(`select count(*)::int as n from ${slotOrderTable(this.table, slot)}`);
      const entityType = this.prepared.plan.entityTypes[slot]!;
      jobs.push({ slot, entityType, rows: count?.n ?? 0, query: slotJoinQuery(this.table, slot, entityType, lookups) });
    }
    this.slots = jobs;
    return jobs;
  }

  /**
   * Runs every as-of lookup in Postgres, written to the result tables. batches() calls it; calling
   * it first lets a caller learn of database errors before it commits to a response.
   */
  async join(): Promise<void> {
    if (this.joined) return;
    const jobs = await this.prepareSlots();
    const total = jobs.reduce((n, j) => n + j.rows, 0);
    let done = 0;
    for (const job of jobs) {
      const step = this.prepared.options.joinChunkRows;
      for (let lo = 1; lo <= job.rows; lo += step) {
        const hi = Math.min(job.rows, lo + step - 1);
        await this.runner.query(job.query.insert, job.query.params(lo, hi));
        done += hi - lo + 1;
        this.onProgress?.({ stage: "join", done, total, elapsedMs: Date.now() - this.startedAt });
      }
      await this.runner.query(`analyze ${slotResultTable(this.table, job.slot)}`);
    }
    this.joined = true;
  }

  /** The plans Postgres runs for the first as-of join chunk of each entity type; with analyze, measured by running them. */
  async explain(analyze = true): Promise<string> {
    const jobs = await this.prepareSlots();
    const options = analyze ? "(analyze, buffers, costs off, timing off)" : "(costs on)";
    const parts: string[] = [];
    for (const job of jobs) {
      const hi = Math.max(1, Math.min(job.rows, this.prepared.options.joinChunkRows));
      const rows = await this.runner.query<{ "QUERY PLAN": string }>(`explain ${options} ${job.query.select}`, job.query.params(1, hi));
      parts.push(`-- as-of join, ${job.entityType} rows 1..${hi} of ${job.rows} (${this.slotLookups[job.slot]!.length} lookups):`);
      parts.push(rows.map((r) => r["QUERY PLAN"]).join("\n"));
    }
    return parts.join("\n");
  }

  /** Batches of output rows in spine order; the next chunk is queried while this one is consumed. */
  async *batches(): AsyncGenerator<DatasetRow[], void, undefined> {
    const chunk = this.prepared.options.chunkRows;
    const fetch = (lo: number) =>
      this.runner.query<ResultRow>(this.output.text, this.output.params(lo, Math.min(this.totalRows, lo + chunk - 1)));
    let pending: Promise<ResultRow[]> | undefined;
    try {
      await this.join();
      let lo = 1;
      pending = this.totalRows > 0 ? fetch(lo) : undefined;
      while (pending) {
        const rows = await pending;
        lo += chunk;
        pending = lo <= this.totalRows ? fetch(lo) : undefined;
        // A consumer that stops early leaves the prefetch running; its error surfaces when awaited above.
        pending?.catch(() => undefined);
        const aggregates = await this.aggregatesOf(rows);
        const out = rows.map((r, i) => this.assemble(r, aggregates, i));
        this.emitted += out.length;
        if (!pending) this.finishedAt = Date.now();
        this.onProgress?.({ stage: "write", done: this.emitted, total: this.totalRows, elapsedMs: Date.now() - this.startedAt });
        yield out;
      }
      this.finishedAt ??= Date.now();
    } finally {
      if (pending) await pending.catch(() => undefined);
      await this.close();
    }
  }

  summary(): TrainingSummary {
    const seconds = ((this.finishedAt ?? Date.now()) - this.startedAt) / 1000;
    return { rows: this.emitted, features: this.stats, seconds, rowsPerSecond: seconds > 0 ? this.emitted / seconds : this.emitted };
  }

  /** Drops the temporary tables and ends the build's transaction (after a failed statement, COMMIT rolls back). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const tables = [this.table];
    for (const [slot, indexes] of this.slotLookups.entries()) {
      if (indexes.length) tables.push(slotOrderTable(this.table, slot), slotResultTable(this.table, slot));
    }
    await dropQuietly(this.runner, tables);
    await endTransaction(this.runner, "commit");
  }

  /** The aggregation cells of a chunk, from raw_events (none requested: no query). */
  private async aggregatesOf(rows: readonly ResultRow[]): Promise<Map<string, (TimedValue | undefined)[]>> {
    const { plan, source, registry } = this.prepared;
    if (!plan.outputs.some((o) => o.aggregateSlot !== undefined)) return new Map();
    const joinKeys = plan.entityTypes.map((type) => registry.snapshot.entities.find((e) => e.name === type)?.join_key ?? `${type}_id`);
    const asRows: AggregateRow[] = rows.map((r) => {
      if (source.mode === "spine") return { ts: source.spine.rows[r.row_id - 1]!.ts, ids: source.ids[r.row_id - 1]! };
      return { ts: Number(r.src_ts), ids: plan.entityTypes.map((type) => (type === r.src_type ? String(r.src_id) : undefined)) };
    });
    return aggregateCells(this.runner, registry, plan.outputs, (slot) => joinKeys[slot]!, asRows);
  }

  private assemble(r: ResultRow, aggregates: Map<string, (TimedValue | undefined)[]>, index: number): DatasetRow {
    const { plan, source, options } = this.prepared;
    const out: DatasetRow = {};
    let rowTs: number;
    let context: Record<string, unknown>;
    if (source.mode === "spine") {
      const spineRow = source.spine.rows[r.row_id - 1]!;
      rowTs = spineRow.ts;
      Object.assign(out, spineRow.cells);
      context = plan.outputs.some((o) => o.inputs) ? rowContext(source.spine, spineRow) : {};
    } else {
      rowTs = Number(r.src_ts);
      out.entity_type = r.src_type;
      out.entity_id = r.src_id;
      out.event_timestamp = new Date(rowTs).toISOString();
      context = { entity_type: r.src_type, entity_id: r.src_id, event_timestamp: out.event_timestamp };
    }
    for (const o of plan.outputs) {
      const stats = this.stats[o.ref]!;
      let value: unknown = null;
      if (o.aggregateSlot !== undefined) {
        value = aggregates.get(o.ref)?.[index]?.value ?? null;
      } else if (o.lookup !== undefined) {
        const t = r[`t${o.lookup}`];
        if (t !== null && t !== undefined) value = r[`v${o.lookup}`];
        if (options.includeEventTimestamps)
          out[`${o.ref}${EVENT_TIMESTAMP_SUFFIX}`] = t === null || t === undefined ? null : new Date(Number(t)).toISOString();
      } else {
        const features: Record<string, unknown> = {};
        for (const input of o.inputs ?? []) {
          const t = r[`t${input.lookup}`];
          if (t !== null && t !== undefined) features[input.name] = r[`v${input.lookup}`];
        }
        value = computeOnDemand(o.def, context, features, rowTs, stats);
      }
      out[o.ref] = applyNullPolicy(o.def, value, stats);
    }
    return out;
  }
}

function computeOnDemand(
  def: FeatureDefinition,
  context: Record<string, unknown>,
  features: Record<string, unknown>,
  now: number,
  stats: FeatureSummary,
): unknown {
  try {
    return runTransform(def.transform!.name, { context, features, now });
  } catch (err) {
    // As in serving, a transform failure costs that cell only; it is counted rather than logged per row.
    stats.transformErrors++;
    stats.firstTransformError ??= err instanceof Error ? err.message : String(err);
    return null;
  }
}

function applyNullPolicy(def: FeatureDefinition, value: unknown, stats: FeatureSummary): unknown {
  if (value !== null && value !== undefined) return value;
  if (def.null_policy === "default" && def.default_value !== undefined && def.default_value !== null) {
    stats.defaulted++;
    return def.default_value;
  }
  stats.nulls++;
  if (def.null_policy === "reject") stats.missingRequired++;
  return null;
}

async function endTransaction(runner: SqlRunner, how: "commit" | "rollback"): Promise<void> {
  try {
    await runner.query(how);
  } catch (err) {
    // Only reads happened in it; a connection that is gone has ended the transaction already.
    log("warn", "training_end_transaction_failed", { how, error: errorMessage(err) });
  }
}

async function dropQuietly(runner: SqlRunner, tables: readonly string[]): Promise<void> {
  try {
    await runner.query(`drop table if exists ${tables.join(", ")}`);
  } catch (err) {
    // The tables are temporary: they die with the session anyway; say so rather than fail the result.
    log("warn", "training_drop_failed", { tables, error: errorMessage(err) });
  }
}

/** Validates the request, loads the spine into Postgres and returns the dataset to read. */
export async function openTrainingDataset(
  runner: SqlRunner,
  registry: CompiledRegistry,
  input: TrainingInput,
  options: TrainingOptions = {},
): Promise<TrainingDataset> {
  return TrainingDataset.open(runner, prepareTrainingSet(registry, input, options), options.onProgress);
}

/** The whole training set in memory, for programs with moderate sizes; stream with openTrainingDataset otherwise. */
export async function getTrainingDataset(
  runner: SqlRunner,
  registry: CompiledRegistry,
  input: TrainingInput,
  options: TrainingOptions = {},
): Promise<{ columns: string[]; rows: DatasetRow[]; summary: TrainingSummary }> {
  const dataset = await openTrainingDataset(runner, registry, input, options);
  const rows: DatasetRow[] = [];
  for await (const batch of dataset.batches()) rows.push(...batch);
  return { columns: [...dataset.columns], rows, summary: dataset.summary() };
}
