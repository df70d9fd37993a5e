// The comparison's load generator, the same for both servers: C closed loops, each on its own
// keep-alive connection, a warm-up that is not counted, then a measured window (as the rig's load.py).
import { setTimeout as sleep } from "node:timers/promises";
import { mulberry32 } from "../../src/core/random";
import { HttpClient, type HttpResult, msSince, nowNs } from "./http";
import { type CpuByName, startCpuWindow, type WatchedProcess } from "./peer-cpu";
import { percentile, round } from "./stats";

export const FEAST_ONLINE_PATH = "/get-online-features";
/** Worker k opens its connection k × this after the first: gunicorn workers accept from one socket, and C connections arriving at once often all land on one worker. */
export const STAGGER_MS = 25;
/** Every this many responses per loop one is parsed and its values counted (parsing 270 KB costs the client a millisecond or two). */
const CHECK_EVERY = 50;
/** After a failed request the loop waits this long (a refused connection must not spin). */
const ERROR_BACKOFF_MS = 10;
const MAX_ERROR_SAMPLES = 3;

export interface CellLoad {
  baseUrl: string;
  headers: Record<string, string>;
  concurrency: number;
  entities: number;
  warmupS: number;
  durationS: number;
  /** Loop k draws its bodies from mulberry32(seed * 1000 + k): the same bodies for both servers. */
  seed: number;
  body: (random: () => number, entities: number) => string;
  watch?: readonly WatchedProcess[];
}

export interface CellMeasure {
  requests: number;
  errors: number;
  error_samples: string[];
  rps: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  /** Mean response size of the measured requests. */
  response_bytes: number | null;
  /** Of the values in the parsed sample, the share that was not null (Feast answers a missing key PRESENT with null). */
  non_null_fraction: number | null;
  values_checked: number;
  cpu?: CpuByName;
}

/** Values and nulls of a Feast-shaped response, the entity key columns (named in `keys`) left out. */
export function countValues(body: Buffer | string, keys: ReadonlySet<string>): { values: number; nonNull: number } | undefined {
  try {
    const parsed = JSON.parse(body.toString()) as { metadata?: { feature_names?: string[] }; results?: { values?: unknown[] }[] };
    const names = parsed.metadata?.feature_names;
    if (!names || !parsed.results) return undefined;
    let values = 0;
    let nonNull = 0;
    parsed.results.forEach((col, j) => {
      if (keys.has(names[j] ?? "")) return;
      for (const v of col.values ?? []) {
        values++;
        if (v !== null && v !== undefined) nonNull++;
      }
    });
    return { values, nonNull };
  } catch {
    return undefined;
  }
}

export async function runCell(load: CellLoad, entityKeys: ReadonlySet<string>): Promise<CellMeasure> {
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let values = 0;
  let nonNull = 0;
  const errorSamples: string[] = [];
  const t0 = nowNs();
  const measureFromMs = load.warmupS * 1000;
  const endMs = measureFromMs + load.durationS * 1000;
  let stopCpu: (() => CpuByName | undefined) | undefined;
  const cpuWindow = (async () => {
    await sleep(measureFromMs);
    stopCpu = startCpuWindow(load.watch ?? []);
    await sleep(load.durationS * 1000);
    return stopCpu();
  })();
  const loop = async (k: number) => {
    const client = new HttpClient(load.baseUrl, load.headers, 1);
    const random = mulberry32(load.seed * 1000 + k);
    let n = 0;
    try {
      if (k) await sleep(k * STAGGER_MS);
      for (;;) {
        const sentAtMs = msSince(t0);
        if (sentAtMs >= endMs) break;
        const body = load.body(random, load.entities);
        let res: HttpResult | Error;
        try {
          res = await client.post(FEAST_ONLINE_PATH, body);
        } catch (e) {
          res = e instanceof Error ? e : new Error(String(e));
        }
        const doneAtMs = msSince(t0);
        const counted = sentAtMs >= measureFromMs && doneAtMs <= endMs;
        const ok = !(res instanceof Error) && res.status >= 200 && res.status < 300;
        if (counted) {
          if (ok) {
            latencies.push((res as HttpResult).ms);
            bytes += (res as HttpResult).body.length;
          } else {
            errors++;
            if (errorSamples.length < MAX_ERROR_SAMPLES)
              errorSamples.push(res instanceof Error ? res.message : `HTTP ${res.status}: ${res.body.toString().slice(0, 200)}`);
          }
        }
        if (ok && n++ % CHECK_EVERY === 0) {
          const c = countValues((res as HttpResult).body, entityKeys);
          if (c) {
            values += c.values;
            nonNull += c.nonNull;
          }
        }
        if (!ok) await sleep(ERROR_BACKOFF_MS);
      }
    } finally {
      client.close();
    }
  };
  await Promise.all(Array.from({ length: load.concurrency }, (_, k) => loop(k)));
  const cpu = await cpuWindow;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length + errors,
    errors,
    error_samples: errorSamples,
    rps: round(latencies.length / load.durationS, 1)!,
    p50_ms: round(percentile(latencies, 50)),
    p95_ms: round(percentile(latencies, 95)),
    p99_ms: round(percentile(latencies, 99)),
    max_ms: round(latencies.length ? latencies[latencies.length - 1]! : null),
    response_bytes: latencies.length ? Math.round(bytes / latencies.length) : null,
    non_null_fraction: values ? round(nonNull / values, 4) : null,
    values_checked: values,
    ...(cpu ? { cpu } : {}),
  };
}
