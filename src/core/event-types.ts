// Event types: the raw events aggregation features are computed from (features/events.yaml), and the event envelope.
import { z } from "zod";

const SNAKE = /^[a-z][a-z0-9_]*$/;
const DURATION = /^\d+[smhd]$/;

export const EventFieldType = z.enum(["number", "boolean", "string"]);
export type EventFieldType = z.infer<typeof EventFieldType>;

export const EventField = z
  .object({
    type: EventFieldType,
    description: z.string().min(1).optional(),
    /** A missing or null optional field is skipped by the aggregates that read it. */
    optional: z.boolean().default(false),
    allowed_values: z.array(z.string()).min(1).optional(),
  })
  .strict()
  .refine((f) => f.allowed_values === undefined || f.type === "string", {
    path: ["allowed_values"],
    message: "allowed_values applies to string fields only",
  });
export type EventField = z.infer<typeof EventField>;

/** One event type of the catalog (DESIGN "Raw events": the envelope carries event_id and event_timestamp). */
export const EventType = z
  .object({
    name: z.string().regex(SNAKE, "must be snake_case (a-z, 0-9, _)").max(128),
    description: z.string().min(1),
    owner: z.string().min(1).optional(),
    /** Join keys of features/entities.yaml this event carries; one event feeds every one of those entities. */
    entity_keys: z.array(z.string().regex(SNAKE)).min(1),
    /** The envelope's event-time field; fixed by the POST /ingest/events contract. */
    event_time_field: z.literal("event_timestamp").default("event_timestamp"),
    /** The envelope's idempotency key: an id seen before (within allowed_lateness) changes nothing. */
    id_field: z.literal("event_id").default("event_id"),
    /** How long after its event time an event still updates the online tiles ("1h"); later ones are refused. */
    allowed_lateness: z.string().regex(DURATION, 'must be a duration like "10m", "1h"'),
    fields: z.record(z.string().regex(SNAKE, "field names must be snake_case"), EventField),
  })
  .strict();
export type EventType = z.infer<typeof EventType>;

/** features/events.yaml */
export const EventTypesFile = z.object({ event_types: z.array(z.record(z.string(), z.unknown())).min(1) }).strict();

const FieldValue = z.union([z.number(), z.boolean(), z.string(), z.null()]);

/** The raw event envelope of POST /ingest/events (DESIGN "Contracts"). */
export const EventEnvelope = z
  .object({
    event_type: z.string().min(1),
    event_id: z.string().min(1).max(128),
    event_timestamp: z.union([z.iso.datetime({ offset: true }), z.number().int().nonnegative()]),
    entities: z.record(z.string(), z.string().min(1)),
    fields: z.record(z.string(), FieldValue).default({}),
  })
  .strict();
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/** Why an envelope does not fit its event type (empty: it fits). */
export function eventIssues(type: EventType, e: EventEnvelope): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  for (const key of type.entity_keys) if (!e.entities[key]) issues.push({ path: `entities.${key}`, message: "required" });
  for (const key of Object.keys(e.entities))
    if (!type.entity_keys.includes(key)) issues.push({ path: `entities.${key}`, message: `not an entity key of ${type.name}` });
  for (const [name, field] of Object.entries(type.fields)) {
    const v = e.fields[name];
    if (v === undefined || v === null) {
      if (!field.optional) issues.push({ path: `fields.${name}`, message: "required" });
    } else if (typeof v !== field.type) issues.push({ path: `fields.${name}`, message: `expected ${field.type}, got ${typeof v}` });
    else if (field.allowed_values && !field.allowed_values.includes(v as string))
      issues.push({ path: `fields.${name}`, message: `not one of ${field.allowed_values.join(", ")}` });
  }
  for (const name of Object.keys(e.fields))
    if (!Object.hasOwn(type.fields, name)) issues.push({ path: `fields.${name}`, message: `not a field of ${type.name}` });
  return issues;
}

/** Events one queue message holds at most (also bounded by bytes: MAX_UPDATE_MESSAGE_BYTES). */
export const MAX_EVENTS_PER_MESSAGE = 500;

/**
 * A message of the feature-events queue: what POST /ingest/events queues and a direct producer may
 * send (`{"events": [envelope, …]}`, at most MAX_EVENTS_PER_MESSAGE and 120 KiB). The consumer
 * validates, appends to Postgres and folds it like the HTTP path; every step is idempotent by event_id.
 */
export const RawEventsMessage = z
  .object({
    events: z.array(EventEnvelope).min(1).max(MAX_EVENTS_PER_MESSAGE),
    /** Epoch ms the producer took the events (for the consumer's lag metric). */
    received_at: z.number().int().nonnegative().optional(),
    /**
     * Set by POST /ingest/events when it stored these events in Postgres and folded them into every
     * entity's tiles before queueing them: the consumer acks such a message without a second fold
     * (which would change nothing and cost a Durable Object call per entity). Direct producers leave it out.
     */
    folded: z.literal(true).optional(),
  })
  .strict();
export type RawEventsMessage = z.infer<typeof RawEventsMessage>;
