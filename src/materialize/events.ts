// Materialization runs as the admin API reports them, and the NDJSON progress events it streams.

export type RunStatus = "running" | "succeeded" | "failed";
/** Who started a run: the CLI, the cron, the dev stack, or an API call. */
export type RunTrigger = "cli" | "cron" | "dev" | "api";

/** One materialization_runs row. */
export interface RunSummary {
  id: number;
  feature: string;
  status: RunStatus;
  trigger: string;
  interval_start: string | null;
  interval_end: string;
  rows_read: number;
  rows_written: number;
  rejects: number;
  cursor: string | null;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  /** Every row read is accounted for: written by the consumer or rejected. */
  complete: boolean;
}

export type MaterializeEvent =
  | { type: "start"; features: string[] }
  | {
      type: "run_started";
      feature: string;
      run_id: number;
      interval_start: string | null;
      interval_end: string;
      resumed: boolean;
      cursor: string | null;
    }
  | { type: "progress"; feature: string; run_id: number; rows_read: number; rejects: number; enqueued: number; cursor: string | null }
  | { type: "run_finished"; run: RunSummary }
  | { type: "skipped"; feature: string; reason: string }
  | { type: "error"; feature: string; run_id?: number; message: string }
  | { type: "done"; runs: RunSummary[] };

/** A run is complete once it succeeded and the consumer wrote (or rejected) every row it read. */
export function isComplete(run: Pick<RunSummary, "status" | "rows_read" | "rows_written" | "rejects">): boolean {
  return run.status === "succeeded" && run.rows_written + run.rejects >= run.rows_read;
}
