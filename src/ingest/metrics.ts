// Counters of one ingest isolate (consumer outcomes, validation errors, dead letters, enqueues, runs, lateness drops).
import { DEAD_LETTER_SOURCES } from "../core/ingest-message";
import type { RefusalReason } from "../durable/aggregate-tiles";
import type { HubFamily } from "../durable/metrics-hub";
import type { RunSummary } from "../materialize/events";
import { CounterSet } from "../monitoring/counter-set";
import type { Sample } from "../monitoring/exposition";
import type { IngestBatchSummary } from "./consumer";

export const INGEST_FAMILIES: readonly HubFamily[] = [
  { name: "feature_ingest_requests_total", type: "counter", help: "Ingest API requests by route and HTTP status." },
  { name: "feature_ingest_messages_total", type: "counter", help: "Queue messages the consumer handled, by outcome." },
  {
    name: "feature_validation_errors_total",
    type: "counter",
    help: "Feature values rejected by validation, by feature and rule (whole messages go to the dead-letter queue).",
  },
  { name: "feature_dead_letters_total", type: "counter", help: "Messages sent to the dead-letter queue, by source." },
  { name: "feature_dead_letters_stored_total", type: "counter", help: "Dead letters stored in Postgres by the DLQ consumer." },
  { name: "feature_queue_enqueued_total", type: "counter", help: "Messages the ingest Worker put on the ingest queue." },
  { name: "feature_queue_consumed_total", type: "counter", help: "Ingest queue messages acked (written or dead-lettered)." },
  { name: "feature_materialization_runs_total", type: "counter", help: "Materialization runs by feature and final status." },
  {
    name: "feature_stream_lateness_drops_total",
    type: "counter",
    help: "Raw events the online tiles refused (too_late, future); still stored offline.",
  },
];

export class IngestMetrics {
  private readonly counters = new CounterSet();

  constructor() {
    // Alerts take increase() of these (DeadLettersGrowing): they must exist at 0 before the first dead letter.
    for (const source of DEAD_LETTER_SOURCES) this.counters.declare("feature_dead_letters_total", { source });
  }

  request(route: string, status: number): void {
    this.counters.inc("feature_ingest_requests_total", { route, status: String(status) });
  }

  batch(s: IngestBatchSummary): void {
    const c = this.counters;
    c.inc("feature_ingest_messages_total", { outcome: "written" }, s.written);
    c.inc("feature_ingest_messages_total", { outcome: "retried" }, s.retried);
    // Acked and re-queued with only their failed online tiers: the copy is not counted as enqueued
    // either, so the backlog gauge (enqueued − consumed) stays balanced.
    c.inc("feature_ingest_messages_total", { outcome: "requeued_tiers" }, s.requeued);
    let dead = 0;
    for (const [source, n] of Object.entries(s.deadLettered)) {
      c.inc("feature_ingest_messages_total", { outcome: `dead_lettered_${source}` }, n);
      c.inc("feature_dead_letters_total", { source }, n);
      dead += n;
    }
    c.inc("feature_queue_consumed_total", {}, s.written + dead);
    for (const [key, n] of Object.entries(s.rejects)) {
      // consumer.ts keys rejects "feature/rule".
      const slash = key.lastIndexOf("/");
      c.inc("feature_validation_errors_total", { feature_name: key.slice(0, slash), rule: key.slice(slash + 1) }, n);
    }
  }

  deadLettersStored(n: number): void {
    this.counters.inc("feature_dead_letters_stored_total", {}, n);
  }

  enqueued(n: number): void {
    this.counters.inc("feature_queue_enqueued_total", {}, n);
  }

  runs(runs: readonly RunSummary[]): void {
    for (const r of runs) this.counters.inc("feature_materialization_runs_total", { feature_name: r.feature, status: r.status });
  }

  lateness(refused: Partial<Record<RefusalReason, number>>): void {
    for (const [reason, n] of Object.entries(refused)) this.counters.inc("feature_stream_lateness_drops_total", { reason }, n ?? 0);
  }

  samples(): Sample[] {
    return this.counters.samples();
  }
}

/** A producer that counts what it enqueued (for the backlog estimate); a failed send counts nothing. */
export function countingQueue(queue: Pick<Queue, "sendBatch">, onSent: (n: number) => void): Pick<Queue, "sendBatch"> {
  return {
    async sendBatch(messages, options) {
      const list = [...messages];
      const result = await queue.sendBatch(list, options);
      onSent(list.length);
      return result;
    },
  };
}
