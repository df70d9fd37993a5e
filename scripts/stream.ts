// npm run stream: streaming-aggregation admin commands (tools/stream/).
//
// Usage: npm run stream -- backfill --feature NAME [--since ISO-TIME] [--restart]
//   Replays stored raw events into the feature's tiles, page by page with a progress bar; idempotent, and an
//   interrupted run resumes after the last finished page (--restart starts over).
import { parseArgs } from "node:util";
import { EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { ingestEndpoint } from "../tools/ingest-client";
import { ProgressLine } from "../tools/progress";
import { runBackfill } from "../tools/stream/backfill";

const USAGE = "usage: npm run stream -- backfill --feature NAME [--since ISO-TIME] [--restart]";

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { feature: { type: "string" }, since: { type: "string" }, restart: { type: "boolean", default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals[0] !== "backfill" || positionals.length !== 1) throw new UsageError(USAGE);
  if (!values.feature) throw new UsageError(`--feature is required\n${USAGE}`);
  if (values.since !== undefined && Number.isNaN(Date.parse(values.since)))
    throw new UsageError(`--since must be an ISO-8601 time, got "${values.since}"`);
  const since = values.since === undefined ? undefined : new Date(values.since).toISOString();
  const progress = new ProgressLine("backfill");
  const summary = await runBackfill(ingestEndpoint(), {
    feature: values.feature,
    since,
    restart: values.restart,
    onPage: (done, total, page) => progress.update(done, total, `${page.feature}: ${done}/${total} ${page.entity_type}s from ${page.from}`),
  });
  progress.finish();
  const resumed = summary.resumedAfter ? ` (resumed after ${summary.resumedAfter})` : "";
  console.log(`backfilled ${summary.feature}: ${summary.entities} entities, ${summary.events} events, ${summary.pages} pages${resumed}`);
  return EXIT_OK;
}

runIfMain("stream", import.meta.url, main);
