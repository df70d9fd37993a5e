// The MetricsHub stub of a Worker's METRICS_HUB binding (both Workers bind the serving Worker's class).
import { METRICS_HUB_NAME, type MetricsHub } from "../durable/metrics-hub";
import type { MetricsHubClient } from "./metrics-reporter";

/** The one hub object, or undefined when the Worker has no METRICS_HUB binding (then /metrics is this isolate's). */
export function metricsHubOf(ns: DurableObjectNamespace<MetricsHub> | undefined): MetricsHubClient | undefined {
  if (!ns) return undefined;
  // A stub belongs to the request that made it (workerd refuses I/O across requests): one per call.
  const hub = () => ns.get(ns.idFromName(METRICS_HUB_NAME));
  return {
    report: (r) => hub().report(r),
    snapshot: () => hub().snapshot() as Promise<ReturnType<MetricsHub["snapshot"]>>,
  };
}

/** waitUntil of a Hono context's execution context, or undefined where there is none (app.request in tests). */
export function waitUntilOf(c: { executionCtx: { waitUntil(p: Promise<unknown>): void } }): ((p: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (p) => ctx.waitUntil(p);
  } catch {
    // Hono throws when the app runs without an ExecutionContext: the report then runs unawaited.
    return undefined;
  }
}
