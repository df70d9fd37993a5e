// npm run demo:stream: posts simulated listening_event / user_action events to the running stack (tools/demo/event-simulator.ts).
//
// Usage: npm run demo:stream -- [--rate N] [--seconds S] [--seed S]   (Ctrl-C stops; totals on stderr every 5 s)
import { parseArgs } from "node:util";
import { EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { EventSimulator, loadDemoCatalog, startEventStream } from "../tools/demo/event-simulator";
import { requireDatabaseUrl } from "../tools/dev-stack";
import { ingestEndpoint } from "../tools/ingest-client";

const DEFAULT_RATE = 10;
const REPORT_EVERY_MS = 5_000;

function positive(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a positive number, got "${raw}"`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { rate: { type: "string" }, seconds: { type: "string" }, seed: { type: "string" } },
    strict: true,
  });
  const rate = positive("rate", values.rate, DEFAULT_RATE);
  const seconds = values.seconds === undefined ? undefined : positive("seconds", values.seconds, 1);
  const ep = ingestEndpoint();
  const catalog = await loadDemoCatalog(requireDatabaseUrl());
  const seed = values.seed === undefined ? undefined : positive("seed", values.seed, 1);
  const sim = new EventSimulator({ users: catalog.users, tracks: catalog.tracks, seed });
  const stream = startEventStream(ep, sim, rate, (err) => process.stderr.write(`demo:stream: post failed: ${String(err)}\n`));
  process.stderr.write(
    `demo:stream: ${rate} events/s to ${ep.url}/ingest/events over ${catalog.users} users, ${catalog.tracks.length} tracks\n`,
  );
  const report = setInterval(() => {
    const s = stream.summary;
    process.stderr.write(`demo:stream: accepted ${s.accepted}, refused ${JSON.stringify(s.refused)}, failed posts ${s.failures}\n`);
  }, REPORT_EVERY_MS);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
    if (seconds !== undefined) setTimeout(resolve, seconds * 1000);
  });
  clearInterval(report);
  await stream.stop();
  process.stderr.write(`demo:stream: done, ${stream.summary.accepted} events accepted\n`);
  return EXIT_OK;
}

runIfMain("demo:stream failed", import.meta.url, main);
