// sdk-l0-hit: the l0-hit reads made through our TypeScript client (packages/client) from Node, as a
// service written against it sees them: what the client's retries, timeouts and fetch (undici) add
// on top of the load generator's bare node:http (l0-hit in the same run).
import { FeatureStoreClient } from "../../packages/client/src/index";
import { type ScenarioResult, summarize } from "../lib/stats";
import type { BenchContext } from "./context";

export async function sdkL0Hit(ctx: BenchContext): Promise<ScenarioResult> {
  const client = new FeatureStoreClient({ url: ctx.stack.urls.serving, apiKey: ctx.stack.apiKey });
  const ids = ctx.sets.l0;
  const feature_names = ctx.names.userBatch;
  const n = ctx.cfg.requests.l0;
  for (let i = 0; i < Math.min(n, ctx.cfg.warmupRequests); i++) await client.get({ entity_id: ids[i % ids.length]!, feature_names });
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    try {
      await client.get({ entity_id: ids[i % ids.length]!, feature_names, include_metadata: true });
      latencies.push(performance.now() - t0);
    } catch {
      errors++;
    }
  }
  const result = summarize("sdk-l0-hit", latencies, { errors, elapsedMs: performance.now() - started });
  result.notes =
    "l0-hit's reads through FeatureStoreClient.get (fetch, per-attempt timeout, retries) instead of the bench's node:http client";
  return result;
}
