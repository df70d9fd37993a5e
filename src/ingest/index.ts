// Entry module of the feature-ingest Worker: push endpoint, Queue consumers and cron materialization.

import { errorMessage } from "../core/errors";
import { runScheduledMaterialization } from "../materialize/materializer";
import { createIngestApp } from "./app";
import { consumeIngestBatch } from "./consumer";
import { type IngestEnv, ingestContext } from "./context";
import { consumeDeadLetters } from "./dead-letter-consumer";
import { consumeEventBatch } from "./event-consumer";

export { EntityState } from "../durable/entity-state";
export type { IngestEnv } from "./context";

/** Which consumer a queue name belongs to; environments suffix names (feature-ingest-staging). */
export function queueRole(name: string): "ingest" | "dead_letters" | "events" | undefined {
  if (/^feature-ingest-dlq(-.+)?$/.test(name)) return "dead_letters";
  if (/^feature-events(-.+)?$/.test(name)) return "events";
  if (/^feature-ingest(-.+)?$/.test(name)) return "ingest";
  return undefined;
}

const app = createIngestApp(ingestContext);

export default {
  fetch: app.fetch,

  async queue(batch, env) {
    const deps = ingestContext(env);
    switch (queueRole(batch.queue)) {
      case "ingest":
        await consumeIngestBatch(batch, deps.consumer);
        return;
      case "dead_letters":
        await consumeDeadLetters(batch, deps.deadLetters);
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

  async scheduled(controller, env) {
    const deps = ingestContext(env);
    if (!deps.materializer) {
      deps.log({ event: "materialization_schedule_skipped", reason: "DATABASE_URL or INGEST_QUEUE missing" });
      return;
    }
    try {
      await runScheduledMaterialization(await deps.registry(), controller.scheduledTime, deps.materializer);
    } catch (err) {
      deps.log({ event: "materialization_schedule_failed", level: "error", cron: controller.cron, error: errorMessage(err) });
      throw err;
    }
  },
} satisfies ExportedHandler<IngestEnv>;
