// materialization_runs: create, advance the cursor, finish, and list runs.
import type { Client } from "@neondatabase/serverless";
import type { materializationRuns, SqlRow } from "../db/schema";
import { isComplete, type RunStatus, type RunSummary } from "./events";

type RunRow = SqlRow<typeof materializationRuns>;

const iso = (v: Date): string => v.toISOString();

function toRunSummary(row: RunRow): RunSummary {
  const run = {
    id: row.id,
    feature: row.feature_name,
    status: row.status as RunStatus,
    trigger: row.trigger,
    interval_start: row.interval_start === null ? null : iso(row.interval_start),
    interval_end: iso(row.interval_end),
    rows_read: row.rows_read,
    rows_written: row.rows_written,
    rejects: row.rejects,
    cursor: row.cursor,
    error: row.error,
    started_at: iso(row.started_at),
    finished_at: row.finished_at === null ? null : iso(row.finished_at),
    duration_ms: row.duration_ms,
  };
  return { ...run, complete: isComplete(run) };
}

export async function lastSuccessByFeature(client: Client, features: string[]): Promise<Map<string, number>> {
  const res = await client.query<Pick<RunRow, "feature_name" | "interval_end">>(
    `select distinct on (feature_name) feature_name, interval_end
       from materialization_runs
      where status = 'succeeded' and feature_name = any($1::text[])
      order by feature_name, interval_end desc`,
    [features],
  );
  return new Map(res.rows.map((r) => [r.feature_name, r.interval_end.getTime()]));
}

/** Features with a run still marked running: crashed ones are resumed by the next materialization. */
export async function featuresWithOpenRuns(client: Client, features: string[]): Promise<Set<string>> {
  const res = await client.query<Pick<RunRow, "feature_name">>(
    `select distinct feature_name from materialization_runs where status = 'running' and feature_name = any($1::text[])`,
    [features],
  );
  return new Set(res.rows.map((r) => r.feature_name));
}

export async function openRun(client: Client, feature: string): Promise<RunSummary | undefined> {
  const res = await client.query<RunRow>(
    `select * from materialization_runs where feature_name = $1 and status = 'running' order by id desc limit 1`,
    [feature],
  );
  return res.rows[0] ? toRunSummary(res.rows[0]) : undefined;
}

/** Older runs left "running" by a crash, superseded by the one being resumed. */
export async function abandonOlderRuns(client: Client, feature: string, keepId: number): Promise<void> {
  await client.query(
    `update materialization_runs
        set status = 'failed', error = 'abandoned: superseded by run ' || $2::text, finished_at = now(),
            duration_ms = (extract(epoch from now() - started_at) * 1000)::int
      where feature_name = $1 and status = 'running' and id <> $2`,
    [feature, keepId],
  );
}

export async function createRun(
  client: Client,
  run: { feature: string; trigger: string; intervalStart: number | null; intervalEnd: number },
): Promise<RunSummary> {
  const res = await client.query<RunRow>(
    `insert into materialization_runs (feature_name, status, trigger, interval_start, interval_end)
     values ($1, 'running', $2, $3, $4) returning *`,
    [
      run.feature,
      run.trigger,
      run.intervalStart === null ? null : new Date(run.intervalStart).toISOString(),
      new Date(run.intervalEnd).toISOString(),
    ],
  );
  return toRunSummary(res.rows[0]!);
}

/** After each chunk is enqueued: a crashed run resumes after `cursor` without counting the chunk twice. */
export async function advanceRun(client: Client, id: number, cursor: string, rowsRead: number, rejects: number): Promise<void> {
  await client.query(`update materialization_runs set cursor = $2, rows_read = rows_read + $3, rejects = rejects + $4 where id = $1`, [
    id,
    cursor,
    rowsRead,
    rejects,
  ]);
}

export async function finishRun(client: Client, id: number, status: Exclude<RunStatus, "running">, error?: string): Promise<RunSummary> {
  const res = await client.query<RunRow>(
    `update materialization_runs
        set status = $2, error = $3, finished_at = now(), duration_ms = (extract(epoch from now() - started_at) * 1000)::int
      where id = $1 returning *`,
    [id, status, error ?? null],
  );
  return toRunSummary(res.rows[0]!);
}

export interface RunQuery {
  limit: number;
  feature?: string | undefined;
  ids?: number[] | undefined;
}

export async function listRuns(client: Client, q: RunQuery): Promise<RunSummary[]> {
  const res = await client.query<RunRow>(
    `select * from materialization_runs
      where ($2::text is null or feature_name = $2)
        and ($3::int[] is null or id = any($3::int[]))
      order by id desc limit $1`,
    [q.limit, q.feature ?? null, q.ids && q.ids.length > 0 ? q.ids : null],
  );
  return res.rows.map(toRunSummary);
}
