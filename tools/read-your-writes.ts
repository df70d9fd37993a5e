// Read-your-writes, measured: push-then-read trials against running Workers, with and without the write token.
import { FeatureStoreClient } from "../packages/client/src/index";

export interface TrialOptions {
  servingUrl: string;
  ingestUrl: string;
  apiKey: string;
  trials: number;
  /** Concurrent lanes, each on its own entity: a trial waits for the Queue, so lanes keep the run short. */
  lanes: number;
  /** A pushable numerical feature of the user entity. */
  feature: string;
  onProgress?: (done: number) => void;
}

export interface TrialResult {
  mode: "with token" | "without token";
  trials: number;
  /** Reads that answered the value just pushed. */
  fresh: number;
  /** Reads that answered an older value (or none). */
  stale: number;
  /** Reads that failed (e.g. 503: the write was not visible within the wait). */
  errors: number;
  readP50Ms: number;
  readP99Ms: number;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : Number.NaN;
}

/**
 * `trials` times: push a new value of `feature` for an entity, then read it at once. With the token
 * (the client's readYourWrites session) every read must see the value; without it, the figure is
 * how often a read beats the Queue and the consumer. Each lane first reads its entity once, so L0
 * and KV hold an older answer as they would for a live entity.
 */
export async function runTrials(opts: TrialOptions, withToken: boolean): Promise<TrialResult> {
  const client = new FeatureStoreClient({
    url: opts.servingUrl,
    ingestUrl: opts.ingestUrl,
    apiKey: opts.apiKey,
    readYourWrites: withToken,
  });
  const run = `${Date.now().toString(36)}${withToken ? "t" : "n"}`;
  const latencies: number[] = [];
  let fresh = 0;
  let stale = 0;
  let errors = 0;
  let next = 0;
  const lane = async (l: number) => {
    const entity = `user_ryw_${run}_${l}`;
    await client.get({ entity_id: entity, feature_names: [opts.feature] });
    for (let i = next++; i < opts.trials; i = next++) {
      // Within the feature's range (0–168 h), and never the lane's previous value (a lane's trials are `lanes` apart in i, fewer than 1000).
      const value = ((i * 7) % 1000) / 10;
      await client.push({ entity_type: "user", entity_id: entity, event_timestamp: Date.now(), features: { [opts.feature]: value } });
      const started = performance.now();
      try {
        const got = await client.get({ entity_id: entity, feature_names: [opts.feature] }, {});
        latencies.push(performance.now() - started);
        if (got.features[opts.feature] === value) fresh++;
        else stale++;
      } catch {
        errors++;
      }
      opts.onProgress?.(fresh + stale + errors);
    }
  };
  await Promise.all(Array.from({ length: opts.lanes }, (_, l) => lane(l)));
  const sorted = latencies.sort((a, b) => a - b);
  return {
    mode: withToken ? "with token" : "without token",
    trials: opts.trials,
    fresh,
    stale,
    errors,
    readP50Ms: quantile(sorted, 0.5),
    readP99Ms: quantile(sorted, 0.99),
  };
}

export function renderTrials(results: readonly TrialResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.mode} | ${r.trials} | ${r.fresh} | ${r.stale} (${((100 * r.stale) / r.trials).toFixed(1)}%) | ${r.errors} | ${r.readP50Ms.toFixed(1)} | ${r.readP99Ms.toFixed(1)} |`,
  );
  return [
    "| reads | trials | saw the pushed value | stale | errors | read p50 ms | read p99 ms |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows,
  ].join("\n");
}
