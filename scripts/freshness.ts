// npm run freshness: push-to-visible time of a stream feature on the running stack (p50/p95 over N pushes).
import { parseArgs } from "node:util";
import { FeatureStoreClient } from "../packages/client/src/index";
import { EXIT_OK, runIfMain } from "../tools/cli";
import { stackEndpoints } from "../tools/dev-stack";
import { ProgressLine } from "../tools/progress";

/** How often a pushed value is looked for through /features/get. */
const POLL_INTERVAL_MS = 10;
/** A push not visible after this long counts as a miss. */
const VISIBLE_TIMEOUT_MS = 10_000;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { n: { type: "string", default: "100" }, feature: { type: "string", default: "play_queue_length" } },
  });
  const { servingUrl, ingestUrl, apiKey: key } = stackEndpoints();
  const n = Number(values.n);
  const client = new FeatureStoreClient({ url: servingUrl, ingestUrl, apiKey: key });
  const samples: number[] = [];
  let misses = 0;
  const progress = new ProgressLine("freshness");
  for (let i = 0; i < n; i++) {
    const entity = `user_${(i % 200) + 1}`;
    const value = 1000 + i;
    const started = performance.now();
    await client.push({ entity_type: "user", entity_id: entity, event_timestamp: Date.now(), features: { [values.feature!]: value } });
    let seen = false;
    while (performance.now() - started < VISIBLE_TIMEOUT_MS) {
      const body = await client.get({ entity_id: entity, feature_names: [values.feature!] });
      if (body.features[values.feature!] === value) {
        seen = true;
        break;
      }
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    }
    if (seen) samples.push(performance.now() - started);
    else misses++;
    progress.update(i + 1, n, `${i + 1}/${n} pushes`);
  }
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? NaN;
  progress.finish();
  console.log(
    `push-to-visible over ${samples.length} pushes of ${values.feature}: p50 ${q(0.5).toFixed(0)} ms, p95 ${q(0.95).toFixed(0)} ms, max ${q(1).toFixed(0)} ms; not visible within ${VISIBLE_TIMEOUT_MS / 1000} s: ${misses}`,
  );
  return EXIT_OK;
}

runIfMain("freshness", import.meta.url, main);
