// POST /ingest/events: validate raw events against their event types, append them to Postgres, queue them for the
// event consumer, and fold them into each entity's tiles at once (for freshness; the consumer's fold is idempotent).
import { z } from "zod";
import { type AggregationEvent, type AggregationPlan, aggregateObjectName, shardOf } from "../core/aggregation";
import { errorMessage, FeatureStoreError, validationFailed } from "../core/errors";
import { EventEnvelope, eventIssues, MAX_EVENTS_PER_MESSAGE, type RawEventsMessage } from "../core/event-types";
import { eventTimeMs, jsonBytes, MAX_FUTURE_SKEW_MS, MAX_UPDATE_MESSAGE_BYTES, planSendBatches } from "../core/ingest-message";
import { durableObjectName } from "../core/keys";
import type { Logger } from "../core/log";
import type { CompiledRegistry } from "../core/registry";
import { type PostgresConfig, withPostgresClient } from "../db/postgres";
import type { RefusalReason } from "../durable/aggregate-tiles";
import type { EntityState } from "../durable/entity-state";
import { planOf } from "../stores/aggregate-store";

/** Events one request may hold (DESIGN "Raw events"). */
export const MAX_EVENTS_PER_REQUEST = 5_000;
/** A body larger than this is refused before parsing. */
export const MAX_EVENTS_BODY_BYTES = 8 * 1024 * 1024;

export const EventsBody = z.union([EventEnvelope, z.array(EventEnvelope).min(1).max(MAX_EVENTS_PER_REQUEST)]);
export type EventsBody = z.infer<typeof EventsBody>;

export const EventsResult = z.object({
  accepted: z.number().int().meta({ description: "Events in the request, all valid" }),
  stored: z.number().int().meta({ description: "Appended to Postgres now (the others were stored before: same event_id)" }),
  duplicates: z.number().int(),
  queued: z.number().int().meta({ description: "Events put on the feature-events queue (0 without the EVENTS_QUEUE binding)" }),
  entities: z.number().int().meta({ description: "Entity Durable Objects the events were folded into at once" }),
  pending_entities: z
    .number()
    .int()
    .meta({ description: "Entities whose direct fold failed: the event consumer folds their events from the queue" }),
  refused: z
    .record(z.string(), z.number().int())
    .meta({ description: "Per reason (too_late, future), folds refused by the online tiles; still stored offline" }),
});
export type EventsResult = z.infer<typeof EventsResult>;

export interface EventsDeps {
  registry: () => Promise<CompiledRegistry>;
  postgres: PostgresConfig | undefined;
  entityState: DurableObjectNamespace<EntityState> | undefined;
  /** Producer of feature-events (the consumer's durable buffer); undefined: fold directly only. */
  eventsQueue: Pick<Queue, "sendBatch"> | undefined;
  now: () => number;
  log: Logger;
}

/** A 413 for more events than one request may hold, before validating each of them. */
export function checkEventCount(raw: unknown): void {
  if (Array.isArray(raw) && raw.length > MAX_EVENTS_PER_REQUEST)
    throw new FeatureStoreError("payload_too_large", `Request holds ${raw.length} events; the limit is ${MAX_EVENTS_PER_REQUEST}.`, {
      events: raw.length,
      limit: MAX_EVENTS_PER_REQUEST,
    });
}

/**
 * Answers once the events are durable in Postgres and queued, and folded into every entity's tiles
 * that could be reached. Without a queue, a failed fold is a 503 (retrying the whole request is safe:
 * every step is idempotent by event_id); with one, the consumer folds what the direct path missed.
 */
export async function ingestEvents(body: EventsBody, deps: EventsDeps): Promise<EventsResult> {
  const events = Array.isArray(body) ? body : [body];
  const registry = await deps.registry();
  const issues = eventsIssues(registry, events, deps.now(), !Array.isArray(body));
  if (issues.length > 0) throw validationFailed("events", issues);
  if (!deps.postgres) throw new FeatureStoreError("unavailable", "No DATABASE_URL: raw events have no offline store to be appended to");
  if (!deps.entityState) throw new FeatureStoreError("unavailable", "No ENTITY_STATE binding: raw events cannot be folded online");

  // Stored, then folded, then queued: a 202 means all three. The queue is the consumer's durable copy for the
  // entities whose fold failed; when none failed the messages say `folded`, so the consumer does not fold them
  // again (half the Durable Object calls of the path). A failure after the fold is a 503 whose retry is safe.
  const stored = await appendEvents(deps.postgres, events);
  const fold = await foldAll(registry, events, deps.entityState, deps.log);
  const queued = deps.eventsQueue ? await queueEvents(deps.eventsQueue, events, deps.now(), fold.failed.length === 0) : 0;
  if (fold.failed.length > 0 && queued === 0)
    throw new FeatureStoreError(
      "unavailable",
      `The events are stored, but folding them failed for ${fold.failed.length} of ${fold.entities} entities; retrying the whole request is safe (idempotent by event_id)`,
      { failed_entities: fold.failed.slice(0, 20) },
    );
  return {
    accepted: events.length,
    stored,
    duplicates: events.length - stored,
    queued,
    entities: fold.entities - fold.failed.length,
    pending_entities: fold.failed.length,
    refused: fold.refused,
  };
}

/** Why events do not fit their event types (the path of each issue names the event's index unless `single`). */
export function eventsIssues(
  registry: CompiledRegistry,
  events: readonly EventEnvelope[],
  now: number,
  single = false,
): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const at = (i: number, rest: string) => (single ? rest : `${i}.${rest}`);
  events.forEach((e, i) => {
    const type = registry.eventType(e.event_type);
    if (!type) {
      const known = registry.snapshot.event_types.map((t) => t.name).join(", ") || "none";
      issues.push({
        path: at(i, "event_type"),
        message: `unknown event type "${e.event_type}" (registry ${registry.version} has ${known})`,
      });
      return;
    }
    if (eventTimeMs(e.event_timestamp) > now + MAX_FUTURE_SKEW_MS)
      issues.push({ path: at(i, "event_timestamp"), message: `is more than ${MAX_FUTURE_SKEW_MS / 60_000} min in the future` });
    for (const issue of eventIssues(type, e)) issues.push({ path: at(i, issue.path), message: issue.message });
  });
  return issues;
}

/** Packs events into feature-events messages (count and byte limits) and sends them; a refusal is a 503 (retry is safe). */
async function queueEvents(
  queue: Pick<Queue, "sendBatch">,
  events: readonly EventEnvelope[],
  now: number,
  folded: boolean,
): Promise<number> {
  const message = (list: EventEnvelope[]): RawEventsMessage => ({ events: list, received_at: now, ...(folded ? { folded: true } : {}) });
  const messages: RawEventsMessage[] = [];
  let current: EventEnvelope[] = [];
  let bytes = 0;
  for (const [i, e] of events.entries()) {
    const size = jsonBytes(e) + 1;
    if (size > MAX_UPDATE_MESSAGE_BYTES)
      throw new FeatureStoreError(
        "payload_too_large",
        `Event ${i} is ${size} bytes; one event may take at most ${MAX_UPDATE_MESSAGE_BYTES}`,
        {
          index: i,
          bytes: size,
          limit: MAX_UPDATE_MESSAGE_BYTES,
        },
      );
    if (current.length > 0 && (current.length >= MAX_EVENTS_PER_MESSAGE || bytes + size > MAX_UPDATE_MESSAGE_BYTES)) {
      messages.push(message(current));
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length > 0) messages.push(message(current));
  try {
    for (const batch of planSendBatches(messages)) await queue.sendBatch(batch.map((body) => ({ body, contentType: "json" as const })));
  } catch (err) {
    throw new FeatureStoreError(
      "unavailable",
      `The events are stored, but the feature-events queue refused them (${errorMessage(err)}); retrying the whole request is safe`,
      undefined,
      { cause: err },
    );
  }
  return events.length;
}

/** One INSERT of every event; a seen event_id inserts nothing. Returns how many rows are new. */
export async function appendEvents(cfg: PostgresConfig, events: readonly EventEnvelope[]): Promise<number> {
  try {
    return await withPostgresClient(cfg, async (client) => {
      const res = await client.query(
        `INSERT INTO raw_events (event_id, event_type, event_timestamp, entities, fields)
         SELECT id, type, to_timestamp(ms / 1000.0), entities::jsonb, fields::jsonb
           FROM unnest($1::text[], $2::text[], $3::double precision[], $4::text[], $5::text[]) AS e(id, type, ms, entities, fields)
         ON CONFLICT (event_id) DO NOTHING`,
        [
          events.map((e) => e.event_id),
          events.map((e) => e.event_type),
          events.map((e) => eventTimeMs(e.event_timestamp)),
          events.map((e) => JSON.stringify(e.entities)),
          events.map((e) => JSON.stringify(e.fields)),
        ],
      );
      return res.rowCount ?? 0;
    });
  } catch (err) {
    throw new FeatureStoreError(
      "unavailable",
      `Postgres did not take the events (${errorMessage(err)}); nothing was folded, retry`,
      undefined,
      {
        cause: err,
      },
    );
  }
}

export interface FoldOutcome {
  /** Entities that have aggregation features of the events' types. */
  entities: number;
  /** foldEvents calls: one per entity, plus one per shard of its sharded features that the events reach. */
  objects: number;
  /** "entity_type:entity_id" of the entities with a failed call. */
  failed: string[];
  refused: Partial<Record<RefusalReason, number>>;
}

/** An entity's plans for one event type, grouped by shard count (1: the entity's own object). */
type ShardGroups = { shards: number; plans: AggregationPlan[] }[];

/**
 * One foldEvents call per entity the events carry that has aggregation features of their type (the
 * issue's "one Durable Object call per entity per batch"), and per shard object of a hot entity's
 * sharded features (an event goes to shard shardOf(event_id), the same on every redelivery). Failures
 * are reported, not thrown.
 */
export async function foldAll(
  registry: CompiledRegistry,
  events: readonly EventEnvelope[],
  ns: DurableObjectNamespace<EntityState>,
  log: Logger,
): Promise<FoldOutcome> {
  const typeOfKey = new Map(registry.snapshot.entities.map((e) => [e.join_key, e.name]));
  const plansCache = new Map<string, ShardGroups>();
  const plansFor = (entityType: string, eventType: string) => {
    const key = `${entityType}/${eventType}`;
    let groups = plansCache.get(key);
    if (!groups) {
      const plans = registry
        .forEntity(entityType)
        .filter((d) => d.computation_type === "aggregation" && d.aggregation?.source_event === eventType)
        .map((d) => planOf(registry, d.name))
        .filter((p) => p !== undefined);
      const byShards = new Map<number, AggregationPlan[]>();
      for (const p of plans) byShards.set(p.shards, [...(byShards.get(p.shards) ?? []), p]);
      groups = [...byShards].map(([shards, list]) => ({ shards, plans: list }));
      plansCache.set(key, groups);
    }
    return groups;
  };
  const byObject = new Map<string, { entity: string; events: AggregationEvent[]; plans: Map<string, AggregationPlan> }>();
  const entities = new Set<string>();
  for (const e of events) {
    const folded: AggregationEvent = {
      event_type: e.event_type,
      event_id: e.event_id,
      event_timestamp: eventTimeMs(e.event_timestamp),
      fields: e.fields,
    };
    for (const [joinKey, entityId] of Object.entries(e.entities)) {
      const entityType = typeOfKey.get(joinKey);
      if (!entityType) continue;
      const groups = plansFor(entityType, e.event_type);
      if (groups.length === 0) continue;
      const entity = durableObjectName(entityType, entityId);
      entities.add(entity);
      for (const group of groups) {
        const name = aggregateObjectName(entity, group.shards, shardOf(e.event_id, group.shards));
        let entry = byObject.get(name);
        if (!entry) {
          entry = { entity, events: [], plans: new Map() };
          byObject.set(name, entry);
        }
        entry.events.push(folded);
        for (const p of group.plans) entry.plans.set(p.feature, p);
      }
    }
  }
  const entries = [...byObject];
  const settled = await Promise.allSettled(
    entries.map(([name, x]) => ns.get(ns.idFromName(name)).foldEvents(x.events, [...x.plans.values()])),
  );
  const refused: Partial<Record<RefusalReason, number>> = {};
  const failed = new Set<string>();
  settled.forEach((s, i) => {
    if (s.status === "rejected") {
      const [name, entry] = entries[i] as (typeof entries)[number];
      failed.add(entry.entity);
      log({ event: "events_fold_failed", level: "error", entity: entry.entity, object: name, error: errorMessage(s.reason) });
      return;
    }
    for (const [reason, n] of Object.entries(s.value.refused))
      refused[reason as RefusalReason] = (refused[reason as RefusalReason] ?? 0) + (n ?? 0);
  });
  // Refused online but stored offline: logged with its reasons, so a lagging producer shows up.
  if (Object.keys(refused).length > 0) log({ event: "events_refused_online", level: "warn", refused, entities: entities.size });
  return { entities: entities.size, objects: entries.length, failed: [...failed], refused };
}
