// Materialization: run a batch feature's source_query in keyset chunks and enqueue the values on the ingest queue.
import type { Client } from "@neondatabase/serverless";
import type { FeatureDefinition } from "../core/definitions";
import { errorMessage } from "../core/errors";
import { sha256Hex } from "../core/hash";
import { type IngestMessage, jsonBytes, MAX_UPDATE_MESSAGE_BYTES, planSendBatches, toIngestMessage } from "../core/ingest-message";
import type { Logger } from "../core/log";
import type { CompiledRegistry } from "../core/registry";
import { validateValue } from "../core/validation";
import { type PostgresConfig, withPostgresClient } from "../db/postgres";
import { countRejects, type RejectCount } from "../stores/postgres-writer";
import { coerceSourceValue } from "./coerce";
import type { MaterializeEvent, RunSummary, RunTrigger } from "./events";
import { abandonOlderRuns, advanceRun, createRun, featuresWithOpenRuns, finishRun, lastSuccessByFeature, openRun } from "./run-store";
import { type DueDecision, planScheduledRuns } from "./schedule";

/** Source rows per chunk: one keyset query, then up to ceil(n / 100) sendBatch calls. */
export const MATERIALIZE_CHUNK_ROWS = 1_000;
/** A source query chunk slower than this fails the run (it resumes from its cursor next time). */
export const SOURCE_QUERY_TIMEOUT_MS = 120_000;
/** sendBatch calls in flight at once while enqueueing a chunk. */
const SEND_CONCURRENCY = 4;
/** Rejected rows logged per run, so a broken query does not flood the logs. */
const MAX_LOGGED_REJECTS = 5;

export interface MaterializerDeps {
  postgres: PostgresConfig;
  queue: Pick<Queue, "sendBatch">;
  now: () => number;
  log: Logger;
}

export interface MaterializeOptions {
  trigger: RunTrigger;
  /** Overrides the interval start (default: the previous successful run's interval end). */
  since?: number | undefined;
  /** Interval end and the event time of every value (default: deps.now()). */
  at?: number | undefined;
  onEvent?: ((event: MaterializeEvent) => void) | undefined;
}

/**
 * Materializes one batch feature. Holds a session advisory lock on the feature for the whole run,
 * so a second runner skips it, and a run still marked "running" whose lock is free crashed: it is
 * resumed after its cursor with the same interval end (same event time, so re-enqueued rows are
 * idempotent). Returns undefined when skipped.
 */
export async function materializeFeature(
  def: FeatureDefinition,
  opts: MaterializeOptions,
  deps: MaterializerDeps,
): Promise<RunSummary | undefined> {
  const emit = opts.onEvent ?? (() => undefined);
  if (def.computation_type !== "batch" || !def.source_query) {
    emit({
      type: "skipped",
      feature: def.name,
      reason: `${def.name} is ${def.computation_type}; only batch features with a source_query are materialized`,
    });
    return undefined;
  }
  const sourceQuery = def.source_query.trim().replace(/;\s*$/, "");
  return withPostgresClient(deps.postgres, async (client) => {
    const lock = await client.query<{ ok: boolean }>("select pg_try_advisory_lock(hashtext($1)) as ok", [`materialize:${def.name}`]);
    if (!lock.rows[0]?.ok) {
      emit({ type: "skipped", feature: def.name, reason: "another run of this feature is in progress" });
      return undefined;
    }
    let run: RunSummary | undefined;
    try {
      await client.query(`set statement_timeout = ${SOURCE_QUERY_TIMEOUT_MS}`);
      run = await openRun(client, def.name);
      const resumed = run !== undefined;
      if (run) await abandonOlderRuns(client, def.name, run.id);
      else {
        const last = opts.since === undefined ? (await lastSuccessByFeature(client, [def.name])).get(def.name) : undefined;
        run = await createRun(client, {
          feature: def.name,
          trigger: opts.trigger,
          intervalStart: opts.since ?? last ?? null,
          intervalEnd: opts.at ?? deps.now(),
        });
      }
      emit({
        type: "run_started",
        feature: def.name,
        run_id: run.id,
        interval_start: run.interval_start,
        interval_end: run.interval_end,
        resumed,
        cursor: run.cursor,
      });
      await copyChunks(client, def, sourceQuery, run, deps, emit);
      const finished = await finishRun(client, run.id, "succeeded");
      emit({ type: "run_finished", run: finished });
      deps.log({
        event: "materialization_run",
        feature: def.name,
        run_id: finished.id,
        status: finished.status,
        rows_read: finished.rows_read,
        rejects: finished.rejects,
        duration_ms: finished.duration_ms,
      });
      return finished;
    } catch (err) {
      const message = errorMessage(err);
      emit({ type: "error", feature: def.name, ...(run ? { run_id: run.id } : {}), message });
      deps.log({ event: "materialization_failed", level: "error", feature: def.name, run_id: run?.id, error: message });
      if (!run) return undefined;
      // When the connection itself is gone the run stays "running" and is resumed next time.
      const failed = await finishRun(client, run.id, "failed", message).catch((e: unknown) => {
        deps.log({ event: "materialization_mark_failed_failed", run_id: run?.id, error: errorMessage(e) });
        return undefined;
      });
      if (failed) emit({ type: "run_finished", run: failed });
      return failed;
    } finally {
      await client.query("select pg_advisory_unlock(hashtext($1))", [`materialize:${def.name}`]).catch((e: unknown) => {
        // The lock dies with the session anyway; only worth a note.
        deps.log({ event: "materialization_unlock_failed", feature: def.name, error: errorMessage(e) });
      });
    }
  });
}

async function copyChunks(
  client: Client,
  def: FeatureDefinition,
  sourceQuery: string,
  run: RunSummary,
  deps: MaterializerDeps,
  emit: (e: MaterializeEvent) => void,
): Promise<void> {
  const eventTimestamp = new Date(run.interval_end).getTime();
  let cursor = run.cursor ?? "";
  let rowsRead = run.rows_read;
  let rejectsTotal = run.rejects;
  let logged = 0;
  for (;;) {
    const res = await client.query<{ entity_id: string; value: unknown }>(
      `select q.entity_id::text as entity_id, q.value as value
         from (${sourceQuery}) as q
        where q.entity_id::text > $1
        order by q.entity_id::text
        limit $2`,
      [cursor, MATERIALIZE_CHUNK_ROWS],
    );
    if (res.rows.length === 0) break;
    const messages: IngestMessage[] = [];
    const rejects: RejectCount[] = [];
    const reject = (entityId: string, rule: string, message: string) => {
      rejects.push({ feature: def.name, rule, message, count: 1 });
      if (logged++ < MAX_LOGGED_REJECTS)
        deps.log({ event: "materialization_reject", feature: def.name, run_id: run.id, entity_id: entityId, rule, message });
    };
    let previous: string | undefined;
    for (const row of res.rows) {
      const entityId = row.entity_id;
      if (entityId === previous) {
        reject(entityId, "duplicate_entity", `source_query returned entity_id ${entityId} more than once; the first row is kept`);
        continue;
      }
      previous = entityId;
      const value = coerceSourceValue(def, row.value);
      const violation = validateValue(def, value);
      if (violation) {
        reject(entityId, violation.rule, violation.message);
        continue;
      }
      const message = toIngestMessage(
        { entity_type: def.entity_type, entity_id: entityId, event_timestamp: eventTimestamp, features: { [def.name]: value } },
        { update_id: await updateId(run.id, entityId), source: "materialization", run_id: run.id, received_at: deps.now() },
      );
      if (jsonBytes(message) > MAX_UPDATE_MESSAGE_BYTES) {
        reject(entityId, "too_large", `value of ${def.name} for ${entityId} exceeds ${MAX_UPDATE_MESSAGE_BYTES} bytes`);
        continue;
      }
      messages.push(message);
    }
    await enqueue(deps.queue, messages);
    cursor = res.rows[res.rows.length - 1]!.entity_id;
    rowsRead += res.rows.length;
    rejectsTotal += rejects.length;
    await advanceRun(client, run.id, cursor, res.rows.length, rejects.length);
    await countRejects(client, "materialization", rejects);
    emit({
      type: "progress",
      feature: def.name,
      run_id: run.id,
      rows_read: rowsRead,
      rejects: rejectsTotal,
      enqueued: messages.length,
      cursor,
    });
    if (res.rows.length < MATERIALIZE_CHUNK_ROWS) break;
  }
}

/** Stable per run and entity: a resumed chunk re-enqueues the same ids, so dead letters dedupe too. */
async function updateId(runId: number, entityId: string): Promise<string> {
  const id = `m${runId}:${entityId}`;
  return id.length <= 128 ? id : `m${runId}:${(await sha256Hex(entityId)).slice(0, 32)}`;
}

async function enqueue(queue: Pick<Queue, "sendBatch">, messages: IngestMessage[]): Promise<void> {
  const batches = planSendBatches(messages);
  for (let i = 0; i < batches.length; i += SEND_CONCURRENCY) {
    await Promise.all(
      batches.slice(i, i + SEND_CONCURRENCY).map((b) => queue.sendBatch(b.map((body) => ({ body, contentType: "json" as const })))),
    );
  }
}

/** Materializes the given features one after another, streaming events; the final event lists every run. */
export async function materializeMany(
  features: FeatureDefinition[],
  opts: MaterializeOptions,
  deps: MaterializerDeps,
): Promise<RunSummary[]> {
  const emit = opts.onEvent ?? (() => undefined);
  emit({ type: "start", features: features.map((f) => f.name) });
  const runs: RunSummary[] = [];
  for (const def of features) {
    try {
      const run = await materializeFeature(def, opts, deps);
      if (run) runs.push(run);
    } catch (err) {
      // Connecting to Postgres failed before a run existed; the next feature may still work.
      emit({ type: "error", feature: def.name, message: errorMessage(err) });
    }
  }
  emit({ type: "done", runs });
  return runs;
}

export interface ScheduledResult {
  decisions: DueDecision[];
  runs: RunSummary[];
}

/** The cron: every batch feature whose update_frequency has elapsed since its last success, plus crashed runs to resume. */
export async function runScheduledMaterialization(
  registry: CompiledRegistry,
  now: number,
  deps: MaterializerDeps,
  onEvent?: (event: MaterializeEvent) => void,
): Promise<ScheduledResult> {
  const batchFeatures = registry.features.filter((f) => f.computation_type === "batch" && f.source_query);
  if (batchFeatures.length === 0) return { decisions: [], runs: [] };
  const names = batchFeatures.map((f) => f.name);
  const { last, open } = await withPostgresClient(deps.postgres, async (client) => ({
    last: await lastSuccessByFeature(client, names),
    open: await featuresWithOpenRuns(client, names),
  }));
  const decisions = planScheduledRuns(batchFeatures, last, now).map((d) =>
    !d.due && open.has(d.feature) ? { ...d, due: true, reason: "resuming a run that did not finish" } : d,
  );
  const due = new Set(decisions.filter((d) => d.due).map((d) => d.feature));
  deps.log({ event: "materialization_schedule", due: [...due], not_due: decisions.filter((d) => !d.due).map((d) => d.feature) });
  const runs = await materializeMany(
    batchFeatures.filter((f) => due.has(f.name)),
    { trigger: "cron", at: now, onEvent },
    deps,
  );
  return { decisions, runs };
}
