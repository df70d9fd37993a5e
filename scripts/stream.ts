// npm run stream: streaming-aggregation admin commands (tools/stream/).
//
// Usage: npm run stream -- backfill --feature NAME [--since ISO-TIME] [--restart]
//   Replays stored raw events into the feature's tiles, page by page with a progress bar; idempotent, and an
//   interrupted run resumes after the last finished page (--restart starts over).
//        npm run stream -- freshness [--n N]
//   Event accepted -> visible in /features/get (tracks_played_1h of a fresh user), p50/p95 over N events.
import { parseArgs } from "node:util";
import { EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { readDevStack } from "../tools/dev-stack";
import { ingestEndpoint } from "../tools/ingest-client";
import { ProgressLine } from "../tools/progress";
import { runBackfill } from "../tools/stream/backfill";
import { measureEventFreshness } from "../tools/stream/event-freshness";

const USAGE = "usage: npm run stream -- backfill --feature NAME [--since ISO-TIME] [--restart] | freshness [--n N]";

async function freshness(n: number): Promise<number> {
  const ep = ingestEndpoint();
  const servingUrl = process.env.SERVING_URL ?? readDevStack()?.servingUrl;
  if (!servingUrl) throw new Error("no serving Worker known: start npm run dev or set SERVING_URL");
  const progress = new ProgressLine("freshness");
  const accept: number[] = [];
  const visible: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = await measureEventFreshness({ servingUrl, ingestUrl: ep.url, key: ep.key }, i);
    accept.push(s.acceptMs);
    visible.push(s.visibleMs);
    progress.update(i + 1, n, `${i + 1}/${n} events`);
  }
  progress.finish();
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]?.toFixed(1);
  console.log(`events: ${n}; POST /ingest/events -> 202: p50 ${q(accept, 0.5)} ms, p95 ${q(accept, 0.95)} ms`);
  console.log(`accepted -> visible in /features/get: p50 ${q(visible, 0.5)} ms, p95 ${q(visible, 0.95)} ms`);
  return EXIT_OK;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      feature: { type: "string" },
      since: { type: "string" },
      restart: { type: "boolean", default: false },
      n: { type: "string", default: "50" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError(USAGE);
  if (positionals[0] === "freshness") {
    const n = Number(values.n);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--n must be a positive integer, got "${values.n}"`);
    return freshness(n);
  }
  if (positionals[0] !== "backfill") throw new UsageError(USAGE);
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
