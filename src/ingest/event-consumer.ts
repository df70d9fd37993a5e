// Queue consumer of feature-events: raw events (from POST /ingest/events or a direct producer) appended to Postgres and
// folded into the entities' tiles with one Durable Object call per entity per batch; at-least-once in, exactly-once effect.

import { describeZodIssues, errorMessage } from "../core/errors";
import type { EventEnvelope } from "../core/event-types";
import { RawEventsMessage } from "../core/event-types";
import type { Logger } from "../core/log";
import type { CompiledRegistry } from "../core/registry";
import type { PostgresConfig } from "../db/postgres";
import type { RefusalReason } from "../durable/aggregate-tiles";
import type { EntityState } from "../durable/entity-state";
import { retryDelaySeconds } from "./consumer";
import { appendEvents, eventsIssues, foldAll } from "./events";

export interface EventConsumerDeps {
  registry: () => Promise<CompiledRegistry>;
  postgres: PostgresConfig | undefined;
  entityState: DurableObjectNamespace<EntityState> | undefined;
  now: () => number;
  log: Logger;
}

export interface EventBatchSummary {
  messages: number;
  /** Valid events of the batch (redeliveries included: they change nothing). */
  events: number;
  /** Messages that are no RawEventsMessage: logged with their issues and acked (retrying cannot fix them). */
  invalidMessages: number;
  /** Events that do not fit their event type: logged and left out; the rest of their message is processed. */
  invalidEvents: number;
  /** Events of `folded` messages (stored and folded by POST /ingest/events already): acked as they are. */
  alreadyFolded: number;
  /** Rows new in raw_events. */
  stored: number;
  /** Durable Object calls (one per entity of the batch, plus one per shard a sharded feature's events reach). */
  entities: number;
  failedEntities: number;
  retried: number;
  refused: Partial<Record<RefusalReason, number>>;
}

/**
 * Handles one batch. Nothing is acked before its events are in Postgres and folded into every entity
 * they feed; a message whose entity failed is retried with backoff, which is harmless: raw_events
 * ignores a seen event_id and the tiles ignore a seen event id within the lateness horizon. Without a
 * DLQ, Queues drops a message after max_retries; its events are still in raw_events (if the append
 * succeeded) and `npm run stream -- backfill` replays them.
 */
export async function consumeEventBatch(batch: MessageBatch<unknown>, deps: EventConsumerDeps): Promise<EventBatchSummary> {
  const summary: EventBatchSummary = {
    messages: batch.messages.length,
    events: 0,
    invalidMessages: 0,
    invalidEvents: 0,
    alreadyFolded: 0,
    stored: 0,
    entities: 0,
    failedEntities: 0,
    retried: 0,
    refused: {},
  };
  const retry = (msgs: readonly Message<unknown>[], why: string) => {
    for (const msg of msgs) msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
    summary.retried += msgs.length;
    deps.log({ event: "event_batch_retried", level: "warn", queue: batch.queue, messages: msgs.length, error: why });
  };

  let registry: CompiledRegistry;
  try {
    registry = await deps.registry();
    // Without event types every event would look unknown: wait for the registry instead of dropping them.
    if (registry.snapshot.event_types.length === 0)
      throw new Error("no event types in the published registry yet (npm run registry -- apply)");
  } catch (err) {
    retry(batch.messages, `registry: ${errorMessage(err)}`);
    return summary;
  }
  if (!deps.postgres || !deps.entityState) {
    retry(batch.messages, "no DATABASE_URL or ENTITY_STATE binding");
    return summary;
  }

  const now = deps.now();
  const work: { msg: Message<unknown>; events: EventEnvelope[] }[] = [];
  for (const msg of batch.messages) {
    const parsed = RawEventsMessage.safeParse(msg.body);
    if (!parsed.success) {
      summary.invalidMessages++;
      deps.log({ event: "event_message_invalid", level: "error", id: msg.id, issues: describeZodIssues(parsed.error).slice(0, 10) });
      msg.ack();
      continue;
    }
    if (parsed.data.folded) {
      // POST /ingest/events stored and folded these before queueing them: a second fold would change nothing.
      summary.alreadyFolded += parsed.data.events.length;
      msg.ack();
      continue;
    }
    const issues = eventsIssues(registry, parsed.data.events, now);
    const bad = new Set(issues.map((i) => Number(i.path.split(".")[0])));
    if (bad.size > 0) {
      summary.invalidEvents += bad.size;
      deps.log({ event: "event_invalid", level: "error", id: msg.id, events: bad.size, issues: issues.slice(0, 10) });
    }
    work.push({ msg, events: parsed.data.events.filter((_, i) => !bad.has(i)) });
  }
  const events = work.flatMap((w) => w.events);
  summary.events = events.length;
  if (events.length === 0) {
    for (const w of work) w.msg.ack();
    return summary;
  }

  try {
    summary.stored = await appendEvents(deps.postgres, events);
  } catch (err) {
    retry(
      work.map((w) => w.msg),
      errorMessage(err),
    );
    return summary;
  }
  const fold = await foldAll(registry, events, deps.entityState, deps.log);
  summary.entities = fold.objects;
  summary.failedEntities = fold.failed.length;
  summary.refused = fold.refused;
  const failed = new Set(fold.failed);
  const typeOfKey = new Map(registry.snapshot.entities.map((e) => [e.join_key, e.name]));
  const touchesFailed = (e: EventEnvelope) =>
    Object.entries(e.entities).some(([key, id]) => {
      const type = typeOfKey.get(key);
      return type !== undefined && failed.has(`${type}:${id}`);
    });
  const again: Message<unknown>[] = [];
  for (const w of work) {
    if (failed.size > 0 && w.events.some(touchesFailed)) again.push(w.msg);
    else w.msg.ack();
  }
  if (again.length > 0) retry(again, `fold failed for ${fold.failed.length} entities (${fold.failed.slice(0, 5).join(", ")})`);
  deps.log({
    event: "event_batch",
    queue: batch.queue,
    messages: summary.messages,
    events: summary.events,
    already_folded: summary.alreadyFolded,
    stored: summary.stored,
    entities: summary.entities,
    failed_entities: summary.failedEntities,
    refused: summary.refused,
  });
  return summary;
}
