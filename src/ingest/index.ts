// Entry module of the feature-ingest Worker: push endpoint, Queue consumers and cron materialization.

import { errorMessage } from "../core/errors";
import { runScheduledMaterialization } from "../materialize/materializer";
import { LOCAL_COLO } from "../monitoring/metrics-reporter";
import { createIngestApp } from "./app";
import { consumeIngestBatch } from "./consumer";
import { type IngestContext, type IngestEnv, ingestContext } from "./context";
import { consumeDeadLetters } from "./dead-letter-consumer";
import { consumeEventBatch } from "./event-consumer";
import { runQualityJob } from "./quality-job";
import { queueRole } from "./queues";

export { EntityState } from "../durable/entity-state";
export { MetricsHub } from "../durable/metrics-hub";
export type { IngestEnv } from "./context";
export { queueRole } from "./queues";

const app = createIngestApp(ingestContext);

/**
 * After every batch: no user waits on a queue handler, and a batch can be an isolate's last event for
 * a long time (a throttled report would strand its counts). Batches come at most every second per
 * consumer, so the hub sees a few writes a second. A failed report is logged; its counts go next time.
 */
async function reportMetrics(deps: IngestContext): Promise<void> {
  if (!deps.metricsHub) return;
  await deps.metricsReporter
    .flush(deps.metricsHub, LOCAL_COLO)
    .catch((err: unknown) => deps.log({ event: "metrics_report_failed", level: "warn", error: errorMessage(err) }));
}

export default {
  fetch: app.fetch,

  async queue(batch, env) {
    const deps = ingestContext(env);
    switch (queueRole(batch.queue)) {
      case "ingest":
        deps.metrics.batch(await consumeIngestBatch(batch, deps.consumer));
        await reportMetrics(deps);
        return;
      case "dead_letters":
        deps.metrics.deadLettersStored((await consumeDeadLetters(batch, deps.deadLetters)).stored);
        await reportMetrics(deps);
        return;
      case "events":
        await consumeEventBatch(batch, deps.events);
        return;
      default:
        // A consumer wired to a queue we do not know: never ack what we cannot handle.
        deps.log({ event: "unknown_queue", level: "error", queue: batch.queue, messages: batch.messages.length });
        batch.retryAll();
    }
  },

  async scheduled(controller, env, ctx) {
    const deps = ingestContext(env);
    // Quality is computed even when materialization cannot run (it needs Postgres only).
    const quality = runQualityJob(deps, controller.scheduledTime);
    ctx.waitUntil(quality);
    try {
      if (!deps.materializer) {
        deps.log({ event: "materialization_schedule_skipped", reason: "DATABASE_URL or INGEST_QUEUE missing" });
        return;
      }
      try {
        const { runs } = await runScheduledMaterialization(await deps.registry(), controller.scheduledTime, deps.materializer);
        deps.metrics.runs(runs);
      } catch (err) {
        deps.log({ event: "materialization_schedule_failed", level: "error", cron: controller.cron, error: errorMessage(err) });
        throw err;
      }
    } finally {
      await quality;
      if (deps.metricsHub)
        await deps.metricsReporter
          .flush(deps.metricsHub, LOCAL_COLO)
          .catch((err: unknown) => deps.log({ event: "metrics_report_failed", level: "warn", error: errorMessage(err) }));
    }
  },
} satisfies ExportedHandler<IngestEnv>;
