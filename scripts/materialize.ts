// npm run materialize: materializes batch features through the running ingest Worker and waits until they are written.
import { parseArgs } from "node:util";
import type { MaterializeEvent, RunSummary } from "../src/materialize/events";
import { EXIT_FAILED, EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { callIngest, type IngestEndpoint, ingestEndpoint, responseError } from "../tools/ingest-client";
import { ProgressLine } from "../tools/progress";

/** Default wait for the consumer to account for every row a run read. */
const DEFAULT_WAIT_TIMEOUT_SECONDS = 120;
/** How often the runs endpoint is polled while waiting. */
const POLL_INTERVAL_MS = 500;

const USAGE = `Usage: npm run materialize -- (--feature NAME [--feature NAME ...] | --all) [options]

  --feature NAME    a batch feature to materialize (repeatable; flat or group:name)
  --all             every batch feature in the registry
  --since ISO       interval start to record (default: the end of the previous successful run)
  --trigger KIND    cli (default) or dev: recorded on the run
  --timeout SECS    how long to wait for the queue consumer to write every row (default ${DEFAULT_WAIT_TIMEOUT_SECONDS})
  --no-wait         return once the values are queued, without waiting for the writes
  -h, --help        this text

The ingest Worker is found via INGEST_URL and FEATURE_STORE_API_KEY, else .data/dev-stack.json
(written by npm run dev).`;

const fmt = (n: number) => n.toLocaleString("en-US");

// ------------------------------------------------------------------ run

interface Options {
  features: string[];
  all: boolean;
  since?: string | undefined;
  trigger: "cli" | "dev";
  timeoutSeconds: number;
  wait: boolean;
}

function parseOptions(argv: string[]): Options | "help" {
  // biome-ignore lint/suspicious/noImplicitAnyLet: TypeScript types it from parseArgs' overloads at the assignment below
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        feature: { type: "string", multiple: true },
        all: { type: "boolean", default: false },
        since: { type: "string" },
        trigger: { type: "string", default: "cli" },
        timeout: { type: "string", default: String(DEFAULT_WAIT_TIMEOUT_SECONDS) },
        "no-wait": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  }
  if (values.help) return "help";
  const features = values.feature ?? [];
  if (features.length > 0 === values.all) throw new UsageError(`give --feature NAME (repeatable) or --all\n\n${USAGE}`);
  if (values.trigger !== "cli" && values.trigger !== "dev") throw new UsageError(`--trigger must be cli or dev, not "${values.trigger}"`);
  if (values.since !== undefined && Number.isNaN(Date.parse(values.since)))
    throw new UsageError(`--since must be an ISO-8601 date-time, not "${values.since}"`);
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new UsageError(`--timeout must be a positive number of seconds`);
  const since = values.since === undefined ? undefined : new Date(values.since).toISOString();
  return { features, all: values.all, since, trigger: values.trigger, timeoutSeconds, wait: !values["no-wait"] };
}

async function* ndjson(res: Response): AsyncGenerator<MaterializeEvent> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) yield JSON.parse(line) as MaterializeEvent;
    }
  }
  if (buffer.trim()) yield JSON.parse(buffer) as MaterializeEvent;
}

/** Starts the runs and follows their progress; returns the runs (finished enqueueing) and per-feature errors. */
/** Local clock readings per run id: when its run started and when every row was seen written. */
interface Timings {
  startedAt: Map<number, number>;
  completedAt: Map<number, number>;
}

async function startRuns(
  ep: IngestEndpoint,
  opts: Options,
  progress: ProgressLine,
  timings: Timings,
): Promise<{ runs: RunSummary[]; errors: string[] }> {
  const body = {
    ...(opts.all ? { all: true } : { features: opts.features }),
    ...(opts.since ? { since: opts.since } : {}),
    trigger: opts.trigger,
  };
  const res = await callIngest(ep, "/admin/materialize", { method: "POST", body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`materialize refused (${res.status}): ${await responseError(res)}`);
  const errors: string[] = [];
  let runs: RunSummary[] = [];
  let planned: string[] = [];
  for await (const ev of ndjson(res)) {
    switch (ev.type) {
      case "start":
        planned = ev.features;
        if (planned.length === 0) progress.line("no batch features to materialize");
        break;
      case "run_started":
        timings.startedAt.set(ev.run_id, Date.now());
        progress.status(
          `${ev.feature} (${planned.indexOf(ev.feature) + 1}/${planned.length}): ${ev.resumed ? `resuming run ${ev.run_id} after ${ev.cursor}` : "reading source"}`,
        );
        break;
      case "progress":
        progress.status(
          `${ev.feature} (${planned.indexOf(ev.feature) + 1}/${planned.length}): ${fmt(ev.rows_read)} rows read, ${fmt(ev.rejects)} rejected`,
        );
        break;
      case "run_finished":
        progress.line(
          ev.run.status === "succeeded"
            ? `✓ ${ev.run.feature}: ${fmt(ev.run.rows_read)} rows queued (${fmt(ev.run.rejects)} rejected) in ${ev.run.duration_ms ?? 0} ms, run ${ev.run.id}`
            : `✗ ${ev.run.feature}: run ${ev.run.id} ${ev.run.status}: ${ev.run.error ?? "unknown error"}`,
        );
        break;
      case "skipped":
        progress.line(`- ${ev.feature}: skipped (${ev.reason})`);
        break;
      case "error":
        errors.push(`${ev.feature}: ${ev.message}`);
        progress.line(`✗ ${ev.feature}: ${ev.message}`);
        break;
      case "done":
        runs = ev.runs;
        break;
    }
  }
  return { runs, errors };
}

/** Polls the runs until every row read is written or rejected by the consumer, or the timeout passes. */
async function waitForWrites(
  ep: IngestEndpoint,
  started: RunSummary[],
  timeoutSeconds: number,
  progress: ProgressLine,
  timings: Timings,
): Promise<{ runs: RunSummary[]; timedOut: boolean }> {
  let runs = started;
  const deadline = Date.now() + timeoutSeconds * 1000;
  const reported = new Set<number>();
  for (;;) {
    const pending = runs.filter((r) => r.status === "succeeded" && !r.complete);
    const total = runs.reduce((n, r) => n + (r.status === "succeeded" ? r.rows_read : 0), 0);
    const done = runs.reduce((n, r) => n + (r.status === "succeeded" ? Math.min(r.rows_read, r.rows_written + r.rejects) : 0), 0);
    for (const r of runs) {
      if (r.complete && !reported.has(r.id)) {
        reported.add(r.id);
        timings.completedAt.set(r.id, Date.now());
        if (!progress.isTty) progress.line(`  ${r.feature}: ${fmt(r.rows_written)} written, ${fmt(r.rejects)} rejected`);
      }
    }
    progress.update(done, total, `writing ${fmt(done)}/${fmt(total)} rows`);
    if (pending.length === 0) return { runs, timedOut: false };
    if (Date.now() > deadline) return { runs, timedOut: true };
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    const res = await callIngest(ep, `/admin/materialize/runs?ids=${runs.map((r) => r.id).join(",")}&limit=${runs.length}`);
    if (res.status !== 200) throw new Error(`could not read runs (${res.status}): ${await responseError(res)}`);
    const fresh = ((await res.json()) as { runs: RunSummary[] }).runs;
    const byId = new Map(fresh.map((r) => [r.id, r]));
    runs = runs.map((r) => byId.get(r.id) ?? r);
  }
}

function summaryTable(runs: RunSummary[], elapsedMs: Map<number, number>): string {
  const header = ["feature", "run", "status", "rows", "written", "rejects", "duration"];
  const rows = runs.map((r) => [
    r.feature,
    String(r.id),
    r.status === "succeeded" && !r.complete ? "writing" : r.status,
    fmt(r.rows_read),
    fmt(r.rows_written),
    fmt(r.rejects),
    `${((elapsedMs.get(r.id) ?? r.duration_ms ?? 0) / 1000).toFixed(1)} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const numeric = new Set([1, 3, 4, 5, 6]);
  const render = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  return [render(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(render)].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  if (opts === "help") {
    console.log(USAGE);
    return EXIT_OK;
  }
  const ep = ingestEndpoint();
  const progress = new ProgressLine("materialize");
  const timings: Timings = { startedAt: new Map(), completedAt: new Map() };
  const { runs, errors } = await startRuns(ep, opts, progress, timings);
  let final = runs;
  let timedOut = false;
  if (opts.wait && runs.some((r) => r.status === "succeeded"))
    ({ runs: final, timedOut } = await waitForWrites(ep, runs, opts.timeoutSeconds, progress, timings));
  progress.clear();
  if (final.length > 0) {
    // With waiting: from the run's start until the consumer had written every row; else the run's own (enqueueing) time.
    const elapsed = new Map<number, number>();
    for (const r of final) {
      const from = timings.startedAt.get(r.id);
      const to = timings.completedAt.get(r.id);
      if (from !== undefined && to !== undefined) elapsed.set(r.id, Math.max(r.duration_ms ?? 0, to - from));
    }
    console.log(summaryTable(final, elapsed));
  }
  const incomplete = final.filter((r) => r.status === "succeeded" && !r.complete);
  if (timedOut) {
    const missing = incomplete.reduce((n, r) => n + r.rows_read - r.rows_written - r.rejects, 0);
    console.error(
      `timed out after ${opts.timeoutSeconds} s waiting for the queue consumer: ${fmt(missing)} rows not yet written (is the consumer running? see npm run dlq -- list)`,
    );
  }
  const failed = final.filter((r) => r.status === "failed");
  return errors.length > 0 || failed.length > 0 || timedOut ? EXIT_FAILED : EXIT_OK;
}

runIfMain("materialize", import.meta.url, () => main(process.argv.slice(2)));
