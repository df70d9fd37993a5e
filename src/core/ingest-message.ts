// Ingest wire contracts: the pushed feature update, the queue message, the dead letter, and Queue limits.
import { z } from "zod";
import { EntityTypeName } from "./definitions";
import { EntityId, FeatureRef } from "./identifiers";

// ------------------------------------------------------------------ Cloudflare Queues limits

/** Queues accept at most this many messages per sendBatch call. */
export const QUEUE_MAX_BATCH_MESSAGES = 100;
/** ...and at most this many bytes per sendBatch call (sum of the message bodies). */
export const QUEUE_MAX_BATCH_BYTES = 256 * 1024;
/** One message body may be at most this big. */
export const QUEUE_MAX_MESSAGE_BYTES = 128 * 1024;
/**
 * Head-room kept below the message limit so that a rejected message still fits once wrapped in
 * its dead-letter envelope (reasons, error, timestamps).
 */
export const DEAD_LETTER_RESERVE_BYTES = 8 * 1024;
/** The largest queue message (serialized JSON) a producer may send. */
export const MAX_UPDATE_MESSAGE_BYTES = QUEUE_MAX_MESSAGE_BYTES - DEAD_LETTER_RESERVE_BYTES;

// ------------------------------------------------------------------ field limits

// Entity ids and feature references: src/core/identifiers.ts (MAX_ENTITY_ID_BYTES, MAX_FEATURE_REF_BYTES).
/** Epoch numbers below this are almost surely seconds, not milliseconds (1973-03-03). */
export const MIN_EPOCH_MS = 100_000_000_000;
/** Largest instant JavaScript dates can represent. */
const MAX_EPOCH_MS = 8_640_000_000_000_000;
/**
 * An event time further in the future than this is refused: under last-write-wins by event time a
 * future timestamp would pin its value until the clock catches up.
 */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** ISO-8601 with a zone ("2026-11-28T10:00:00Z", "...+01:00") or epoch milliseconds. */
export const EventTimestamp = z.union([
  z.iso.datetime({ offset: true, message: "must be an ISO-8601 date-time with a zone (e.g. 2026-11-28T10:00:00Z) or epoch milliseconds" }),
  z
    .number()
    .int("epoch milliseconds must be an integer")
    .min(MIN_EPOCH_MS, "looks like epoch seconds; send epoch milliseconds")
    .max(MAX_EPOCH_MS, "is out of range"),
]);
export type EventTimestamp = z.infer<typeof EventTimestamp>;

/** Epoch milliseconds of a validated event timestamp. */
export function eventTimeMs(ts: EventTimestamp): number {
  return typeof ts === "number" ? ts : Date.parse(ts);
}

// ------------------------------------------------------------------ push

/** One update of one entity: what `POST /ingest/push` takes (alone or in an array). */
export const FeatureUpdate = z
  .object({
    entity_type: EntityTypeName,
    entity_id: EntityId,
    event_timestamp: EventTimestamp,
    /** Flat (`skip_rate_7d`) or qualified (`user_behavior_features:skip_rate_7d`) names. */
    features: z.record(FeatureRef, z.unknown()).refine((f) => Object.keys(f).length > 0, "must name at least one feature"),
  })
  .strict();
export type FeatureUpdate = z.infer<typeof FeatureUpdate>;

/** Updates per push request; bigger imports should be split by the client (or produce to the Queue). */
export const MAX_UPDATES_PER_PUSH = 5_000;

/** Several updates in one push. */
const FeatureUpdates = z.array(FeatureUpdate).min(1, "must hold at least one update").max(MAX_UPDATES_PER_PUSH);

/** A push body: one update or an array of them. */
export const PushBody = z.union([FeatureUpdate, FeatureUpdates]);
export type PushBody = z.infer<typeof PushBody>;

/**
 * What a push answers once queued: one queue message id per update, in order, and a read-your-writes
 * token (src/core/write-token.ts) for pushes of up to MAX_WRITE_TOKEN_ENTITIES entities.
 */
export const PushResult = z.object({
  accepted: z.number().int(),
  message_ids: z.array(z.string()),
  batches: z.number().int(),
  write_token: z.string().optional().meta({
    description: "Pass it as `min_write_token` to /features/get or /features/batch: they then never answer an older value for these writes",
  }),
});
export type PushResult = z.infer<typeof PushResult>;

/**
 * Parses a push body as PushBody does, keeping zod's issue paths precise ("3.event_timestamp"): a
 * plain union would report only "Invalid input" for an object that almost matches.
 */
export function parsePushBody(raw: unknown): z.ZodSafeParseResult<FeatureUpdate> | z.ZodSafeParseResult<FeatureUpdate[]> {
  return Array.isArray(raw) ? FeatureUpdates.safeParse(raw) : FeatureUpdate.safeParse(raw);
}

// ------------------------------------------------------------------ queue message

export const INGEST_SOURCES = ["push", "materialization", "replay"] as const;
export const IngestSource = z.enum(INGEST_SOURCES);
export type IngestSource = z.infer<typeof IngestSource>;

/**
 * What travels on the `feature-ingest` queue: the update plus our own id. Not strict, so a newer
 * producer adding a field does not dead-letter its messages on an older consumer.
 */
export const IngestMessage = FeatureUpdate.extend({
  /** Producer-assigned id, returned by the push endpoint; also the dead letter's id. */
  update_id: z.string().min(1).max(128),
  source: IngestSource,
  /** materialization_runs.id of the run that produced the value. */
  run_id: z.number().int().positive().optional(),
  /** When the producer accepted the update (epoch ms), for ingest-lag metrics. */
  received_at: z.number().int().nonnegative().optional(),
  /**
   * Set by the consumer when it re-queues a message whose Postgres write is durable but whose online
   * tiers (by OnlineStore.tier name) failed: only these are written again, Postgres is not.
   */
  pending_tiers: z.array(z.string().min(1).max(32)).min(1).max(8).optional(),
  /** Failed deliveries of the message(s) this one continues, so backoff and dead-lettering count across re-queues. */
  prior_attempts: z.number().int().nonnegative().max(1000).optional(),
}).strip();
export type IngestMessage = z.infer<typeof IngestMessage>;

export function toIngestMessage(
  update: FeatureUpdate,
  meta: { update_id: string; source: IngestSource; run_id?: number; received_at?: number },
): IngestMessage {
  return { ...update, ...meta };
}

/** The update a message carries, without the queue metadata (what a replay pushes again). */
export function updateOf(message: IngestMessage): FeatureUpdate {
  return {
    entity_type: message.entity_type,
    entity_id: message.entity_id,
    event_timestamp: message.event_timestamp,
    features: message.features,
  };
}

// ------------------------------------------------------------------ dead letters

export const DEAD_LETTER_SOURCES = ["validation", "retries_exhausted", "parse"] as const;
export const DeadLetterSource = z.enum(DEAD_LETTER_SOURCES);
export type DeadLetterSource = z.infer<typeof DeadLetterSource>;

/** One machine-readable reason; `feature` is "*" when the reason concerns the whole message. */
export const DeadLetterReason = z.object({
  feature: z.string(),
  rule: z.string(),
  message: z.string(),
  value: z.unknown().optional(),
});
export type DeadLetterReason = z.infer<typeof DeadLetterReason>;

/** What the consumer sends to `feature-ingest-dlq`: the original message with why it was rejected. */
export const DeadLetterEnvelope = z.object({
  dead_letter: z.object({
    source: DeadLetterSource,
    reasons: z.array(DeadLetterReason),
    /** The last write error, for retries_exhausted. */
    error: z.string().optional(),
    attempts: z.number().int().nonnegative(),
    failed_at: z.string(),
    queue: z.string().optional(),
  }),
  message: z.unknown(),
});
export type DeadLetterEnvelope = z.infer<typeof DeadLetterEnvelope>;

/** Reasons per envelope and characters per reason message: a dead letter must still fit in the queue. */
export const MAX_DEAD_LETTER_REASONS = 50;
export const MAX_REASON_MESSAGE_CHARS = 300;
/** A rejected value is echoed in its reason only when its JSON is this short. */
export const MAX_REASON_VALUE_CHARS = 200;

// ------------------------------------------------------------------ batching

export function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).byteLength;
}

/**
 * Splits messages into sendBatch calls within the Queue limits (count and bytes), keeping order.
 * Every message must already be within MAX_UPDATE_MESSAGE_BYTES.
 */
export function planSendBatches<T>(messages: readonly T[], sizeOf: (m: T) => number = jsonBytes): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = sizeOf(m);
    if (current.length > 0 && (current.length >= QUEUE_MAX_BATCH_MESSAGES || bytes + size > QUEUE_MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
