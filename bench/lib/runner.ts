// Load shapes: sequential (one in flight), closed-loop saturation, and an open model at a fixed
// arrival rate whose latency counts from the scheduled send time (no coordinated omission).
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { type HttpClient, type HttpResult, msSince, nowNs } from "./http";

export interface RunOutcome {
  latencies: number[];
  errors: number;
  elapsedMs: number;
  /** First few error descriptions, for the log. */
  errorSamples: string[];
}

export type Check = (res: HttpResult, i: number) => string | undefined;

const MAX_ERROR_SAMPLES = 5;
/** How late a timer may fire before the open model charges the lateness to the measured latency. */
export const TIMER_SLACK_MS = 2;

function outcome(): RunOutcome {
  return { latencies: [], errors: 0, elapsedMs: 0, errorSamples: [] };
}

function record(out: RunOutcome, res: HttpResult | Error, i: number, check?: Check): void {
  let problem: string | undefined;
  if (res instanceof Error) problem = res.message;
  else if (res.status < 200 || res.status >= 300) problem = `HTTP ${res.status}: ${res.body.toString().slice(0, 200)}`;
  else problem = check?.(res, i);
  if (problem) {
    out.errors++;
    if (out.errorSamples.length < MAX_ERROR_SAMPLES) out.errorSamples.push(problem);
  } else out.latencies.push((res as HttpResult).ms);
}

/** n requests, one at a time. */
export async function sequential(
  client: HttpClient,
  n: number,
  path: string,
  body: (i: number) => unknown,
  check?: Check,
): Promise<RunOutcome> {
  const out = outcome();
  const payloads = Array.from({ length: n }, (_, i) => JSON.stringify(body(i)));
  const started = nowNs();
  for (let i = 0; i < n; i++) {
    const res = await client.post(path, payloads[i]).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    record(out, res, i, check);
  }
  out.elapsedMs = msSince(started);
  return out;
}

/** `concurrency` closed loops for `seconds`: the most this stack answers per second. */
export async function saturate(
  client: HttpClient,
  concurrency: number,
  seconds: number,
  path: string,
  body: (i: number) => unknown,
): Promise<RunOutcome> {
  const out = outcome();
  const deadline = Date.now() + seconds * 1000;
  let i = 0;
  const started = nowNs();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const k = i++;
        const res = await client.post(path, body(k)).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
        record(out, res, k);
      }
    }),
  );
  out.elapsedMs = msSince(started);
  return out;
}

export interface OpenLoopOutcome extends RunOutcome {
  scheduled: number;
  /** Completed requests per second over the run. */
  achievedRate: number;
  /** Latency of request i (NaN when it failed), in schedule order: for latency over time. */
  byRequest: Float64Array;
  /** Worst and mean lag of the sends behind the timetable (ms): high means the client itself fell behind. */
  maxSendLagMs: number;
  meanSendLagMs: number;
  /** The load generator's own stalls: a response that lands during one is timestamped late. */
  clientStalls: ClientStalls;
}

export interface ClientStalls {
  /** Node event-loop delay over the run (ms): how late the client's own callbacks ran. */
  loop_delay_p99_ms: number;
  loop_delay_max_ms: number;
  /** Node garbage-collection pauses of the client process over the run. */
  gc_pauses: number;
  gc_pause_total_ms: number;
  gc_pause_max_ms: number;
}

/** Event-loop delay and GC pauses of this (client) process between start() and the returned stop(). */
export function watchClientStalls(): () => ClientStalls {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let gcPauses = 0;
  let gcTotal = 0;
  let gcMax = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcPauses++;
      gcTotal += e.duration;
      gcMax = Math.max(gcMax, e.duration);
    }
  });
  gc.observe({ entryTypes: ["gc"] });
  return () => {
    loop.disable();
    gc.disconnect();
    const r = (n: number) => Math.round(n * 100) / 100;
    return {
      loop_delay_p99_ms: r(loop.percentile(99) / 1e6),
      loop_delay_max_ms: r(loop.max / 1e6),
      gc_pauses: gcPauses,
      gc_pause_total_ms: r(gcTotal),
      gc_pause_max_ms: r(gcMax),
    };
  };
}

/**
 * Sends request i at start + i/rate regardless of completions (open model). Latency runs from the
 * scheduled time whenever the send was late by more than TIMER_SLACK_MS, so a stalled server is
 * charged for the requests that queue behind it (no coordinated omission).
 */
export async function openLoop(
  client: HttpClient,
  ratePerSecond: number,
  seconds: number,
  path: string,
  body: (i: number) => unknown,
  onResponse?: (res: HttpResult) => void,
): Promise<OpenLoopOutcome> {
  const out = outcome();
  const total = Math.round(ratePerSecond * seconds);
  const intervalNs = BigInt(Math.round(1e9 / ratePerSecond));
  const pending: Promise<void>[] = [];
  let maxSendLagMs = 0;
  let sendLagSumMs = 0;
  const byRequest = new Float64Array(total).fill(Number.NaN);
  const stopWatch = watchClientStalls();
  const start = nowNs() + 5_000_000n;
  for (let i = 0; i < total; i++) {
    const due = start + BigInt(i) * intervalNs;
    // Timers are millisecond-grained (and may fire a little early): sleep whole milliseconds, never
    // send early, and do not spin on two shared cores.
    for (let wait = Number(due - nowNs()) / 1e6; wait > 0; wait = Number(due - nowNs()) / 1e6) await sleep(Math.ceil(wait));
    const sentAt = nowNs();
    const lag = Number(sentAt - due) / 1e6;
    sendLagSumMs += lag;
    maxSendLagMs = Math.max(maxSendLagMs, lag);
    const payload = JSON.stringify(body(i));
    pending.push(
      // A send later than timer granularity (the client fell behind, e.g. behind a stalled server) is
      // charged from its scheduled time; lateness within the granularity is the client's, not the server's.
      client.post(path, payload, lag > TIMER_SLACK_MS ? due : sentAt).then(
        (res) => {
          record(out, res, i);
          if (res.status === 200) {
            byRequest[i] = res.ms;
            onResponse?.(res);
          }
        },
        (e: unknown) => record(out, e instanceof Error ? e : new Error(String(e)), i),
      ),
    );
  }
  await Promise.all(pending);
  out.elapsedMs = msSince(start);
  const stalls = stopWatch();
  return {
    ...out,
    scheduled: total,
    achievedRate: (out.latencies.length / out.elapsedMs) * 1000,
    byRequest,
    maxSendLagMs,
    meanSendLagMs: sendLagSumMs / Math.max(1, total),
    clientStalls: stalls,
  };
}
