// Queue consumer of feature-ingest: validate, write Postgres, then the online tiers; retry or dead-letter what fails.

import { describeZodIssues, errorMessage } from "../core/errors";
import {
  type DeadLetterEnvelope,
  type DeadLetterReason,
  type DeadLetterSource,
  IngestMessage,
  MAX_DEAD_LETTER_REASONS,
} from "../core/ingest-message";
import { entityMapKey, isNewer, type TimedValue, tiebreakOf } from "../core/keys";
import type { Logger } from "../core/log";
import type { EntityRef, OnlineStore, OnlineWrite } from "../core/online-store";
import type { CompiledRegistry } from "../core/registry";
import { type FeatureValueRow, idempotencyKey, type PostgresFeatureWriter } from "../stores/postgres-writer";
import { checkUpdate, type ResolvedWrite, reason, truncate } from "./validate-update";

/** Matches max_retries of the feature-ingest consumer in wrangler.ingest.toml. */
export const MAX_RETRIES = 5;
/** Retry n waits BASE * FACTOR^(n-1) seconds: 5, 15, 45, 135, 405 (about 10 minutes in all). */
export const RETRY_BASE_DELAY_SECONDS = 5;
export const RETRY_BACKOFF_FACTOR = 3;
export const RETRY_MAX_DELAY_SECONDS = 900;
/** Longest error text carried into a dead letter. */
const MAX_ERROR_CHARS = 500;

export function retryDelaySeconds(attempts: number): number {
  const n = Math.max(1, Math.trunc(attempts));
  return Math.min(RETRY_MAX_DELAY_SECONDS, RETRY_BASE_DELAY_SECONDS * RETRY_BACKOFF_FACTOR ** (n - 1));
}

/** The producer side of a queue, as much of it as the consumers use. */
export type QueueSender = Pick<Queue, "send">;

/** Everything the consumer touches, passed in: tests swap any of it for a broken or recording one. */
export interface IngestConsumerDeps {
  registry: () => Promise<CompiledRegistry>;
  /** Source of truth; undefined when DATABASE_URL is not configured (the tier is off). */
  postgres: PostgresFeatureWriter | undefined;
  /** The online tiers written after Postgres (tiers.ts onlineWriteTargets); each takes the types it serves. */
  online: readonly OnlineStore[];
  dlq: QueueSender;
  now: () => number;
  log: Logger;
}

export interface IngestBatchSummary {
  messages: number;
  written: number;
  deadLettered: Record<DeadLetterSource, number>;
  retried: number;
  inserted: number;
  latestChanged: number;
  /** "feature/rule" → rejected values in this batch. */
  rejects: Record<string, number>;
  errors: Record<string, number>;
}

interface Accepted {
  msg: Message<unknown>;
  body: IngestMessage;
  writes: ResolvedWrite[];
  eventTimestamp: number;
}

/**
 * Handles one batch. Every message ends acked (written, or dead-lettered with reasons) or retried
 * with backoff; nothing is acked before its Postgres write succeeded. Online tiers are written
 * after Postgres; a failure there retries the message, which is harmless because the Postgres
 * write is idempotent and every tier applies last-write-wins by event time.
 */
export async function consumeIngestBatch(batch: MessageBatch<unknown>, deps: IngestConsumerDeps): Promise<IngestBatchSummary> {
  const started = deps.now();
  const summary: IngestBatchSummary = {
    messages: batch.messages.length,
    written: 0,
    deadLettered: { validation: 0, retries_exhausted: 0, parse: 0 },
    retried: 0,
    inserted: 0,
    latestChanged: 0,
    rejects: {},
    errors: {},
  };
  const deadLetter = (msg: Message<unknown>, source: DeadLetterSource, reasons: DeadLetterReason[], error?: string) =>
    sendToDeadLetters(msg, batch.queue, source, reasons, error, deps).then((ok) => {
      if (ok) summary.deadLettered[source] += 1;
      else summary.retried += 1;
    });
  const fail = async (msg: Message<unknown>, error: string) => {
    const tier = error.split(":")[0] ?? "unknown";
    summary.errors[tier] = (summary.errors[tier] ?? 0) + 1;
    if (msg.attempts > MAX_RETRIES) {
      await deadLetter(
        msg,
        "retries_exhausted",
        [reason("*", "retries_exhausted", `write failed on attempt ${msg.attempts}: ${error}`)],
        error,
      );
    } else {
      msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
      summary.retried += 1;
    }
  };

  let registry: CompiledRegistry;
  try {
    registry = await deps.registry();
    if (registry.features.length === 0) throw new Error("no feature registry is published yet (npm run registry -- apply)");
  } catch (err) {
    // Without definitions nothing can be validated; the messages wait for the registry.
    await Promise.all(batch.messages.map((msg) => fail(msg, `registry: ${errorMessage(err)}`)));
    logSummary(batch.queue, summary, started, deps);
    return summary;
  }

  const accepted: Accepted[] = [];
  const pending: Promise<void>[] = [];
  for (const msg of batch.messages) {
    const parsed = IngestMessage.safeParse(msg.body);
    if (!parsed.success) {
      const reasons = describeZodIssues(parsed.error).map((i) => reason(i.path, "schema", i.message));
      pending.push(deadLetter(msg, "parse", reasons));
      continue;
    }
    const check = checkUpdate(registry, parsed.data, deps.now());
    if (check.reasons.length > 0) {
      for (const r of check.reasons) {
        const key = `${r.feature}/${r.rule}`;
        summary.rejects[key] = (summary.rejects[key] ?? 0) + 1;
      }
      pending.push(deadLetter(msg, "validation", check.reasons));
      continue;
    }
    accepted.push({ msg, body: parsed.data, writes: check.writes, eventTimestamp: check.eventTimestamp });
  }

  const failures = await writeAccepted(accepted, deps, summary);
  accepted.forEach((item, i) => {
    const error = failures.get(i);
    if (error === undefined) {
      item.msg.ack();
      summary.written += 1;
    } else pending.push(fail(item.msg, error));
  });
  await Promise.all(pending);
  if (Object.keys(summary.rejects).length > 0) deps.log({ event: "ingest_rejects", queue: batch.queue, rejects: summary.rejects });
  logSummary(batch.queue, summary, started, deps);
  return summary;
}

/**
 * Postgres first (one round trip), then the online tiers in parallel through the tier port: Redis
 * (every feature), the Durable Object (stream features), KV (batch features, one merge per entity).
 * Returns the index of every message that must be retried, with the first error.
 */
async function writeAccepted(items: Accepted[], deps: IngestConsumerDeps, summary: IngestBatchSummary): Promise<Map<number, string>> {
  const failures = new Map<number, string>();
  if (items.length === 0) return failures;
  const groups: FeatureValueRow[][] = await Promise.all(
    items.map((item) =>
      Promise.all(
        item.writes.map(async (w) => ({
          entityType: item.body.entity_type,
          entityId: item.body.entity_id,
          featureName: w.def.name,
          value: w.value ?? null,
          eventTimestamp: item.eventTimestamp,
          idempotencyKey: await idempotencyKey(item.body.entity_type, item.body.entity_id, w.def.name, item.eventTimestamp, w.value),
          runId: item.body.run_id,
        })),
      ),
    ),
  );

  if (deps.postgres) {
    try {
      const result = await deps.postgres.write(groups);
      summary.inserted = result.inserted;
      summary.latestChanged = result.latestChanged;
      for (const [i, err] of result.failed) failures.set(i, `postgres: ${truncate(errorMessage(err), MAX_ERROR_CHARS)}`);
    } catch (err) {
      const error = `postgres: ${truncate(errorMessage(err), MAX_ERROR_CHARS)}`;
      for (let i = 0; i < items.length; i++) failures.set(i, error);
      return failures;
    }
  }

  // Coalesce per entity: the newest value per feature by event time (ties: the greater tiebreak, as
  // every tier decides them), so each tier gets one write per entity and never sees an older value
  // after a newer one.
  const entities = new Map<
    string,
    { ref: EntityRef; messages: number[]; values: Map<string, ResolvedWrite & { eventTimestamp: number; tiebreak: string }> }
  >();
  items.forEach((item, i) => {
    if (failures.has(i)) return;
    const key = entityMapKey(item.body.entity_type, item.body.entity_id);
    let entity = entities.get(key);
    if (!entity) {
      entity = { ref: { entityType: item.body.entity_type, entityId: item.body.entity_id }, messages: [], values: new Map() };
      entities.set(key, entity);
    }
    entity.messages.push(i);
    item.writes.forEach((w, j) => {
      const next = { ...w, eventTimestamp: item.eventTimestamp, tiebreak: tiebreakOf(groups[i]![j]!.idempotencyKey) };
      if (isNewer(next, entity.values.get(w.def.name))) entity.values.set(w.def.name, next);
    });
  });

  const list = [...entities.values()];
  const errorsByEntity = list.map((): string[] => []);
  const tierError = (tier: string, err: unknown) => `${tier}: ${truncate(errorMessage(err), MAX_ERROR_CHARS)}`;

  // Every tier in parallel, one call per tier for all entities (Redis: one pipelined round trip);
  // each tier gets only the features of the computation types it serves.
  await Promise.all(
    deps.online.map(async (tier) => {
      const writes: OnlineWrite[] = [];
      const owners: number[] = [];
      list.forEach((entity, k) => {
        let values: Record<string, TimedValue> | undefined;
        for (const [name, v] of entity.values) {
          if (!tier.serves.has(v.def.computation_type)) continue;
          values ??= {};
          values[name] = { value: v.value ?? null, eventTimestamp: v.eventTimestamp, tiebreak: v.tiebreak };
        }
        if (values) {
          writes.push({ ref: entity.ref, values });
          owners.push(k);
        }
      });
      if (writes.length === 0) return;
      try {
        const results = await tier.writeIfNewer(writes);
        results.forEach((r, j) => {
          if (r instanceof Error) errorsByEntity[owners[j]!]!.push(tierError(tier.tier, r));
        });
      } catch (err) {
        for (const k of owners) errorsByEntity[k]!.push(tierError(tier.tier, err));
      }
    }),
  );
  list.forEach((entity, k) => {
    const errors = errorsByEntity[k]!;
    if (errors.length > 0) for (const i of entity.messages) failures.set(i, errors.join("; "));
  });
  return failures;
}

/** Wraps the original message with its reasons and sends it to the DLQ; acks on success, retries when the DLQ is unreachable. */
async function sendToDeadLetters(
  msg: Message<unknown>,
  queue: string,
  source: DeadLetterSource,
  reasons: DeadLetterReason[],
  error: string | undefined,
  deps: IngestConsumerDeps,
): Promise<boolean> {
  const kept = reasons.slice(0, MAX_DEAD_LETTER_REASONS);
  if (reasons.length > kept.length) kept.push(reason("*", "truncated", `${reasons.length - kept.length} more reasons not shown`));
  const envelope: DeadLetterEnvelope = {
    dead_letter: {
      source,
      reasons: kept,
      ...(error === undefined ? {} : { error: truncate(error, MAX_ERROR_CHARS) }),
      attempts: msg.attempts,
      failed_at: new Date(deps.now()).toISOString(),
      queue,
    },
    message: msg.body,
  };
  try {
    await deps.dlq.send(envelope, { contentType: "json" });
    msg.ack();
    return true;
  } catch (err) {
    deps.log({ event: "dead_letter_send_failed", queue, message_id: msg.id, error: errorMessage(err) });
    msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
    return false;
  }
}

function logSummary(queue: string, s: IngestBatchSummary, started: number, deps: IngestConsumerDeps): void {
  deps.log({
    event: "ingest_batch",
    queue,
    messages: s.messages,
    written: s.written,
    inserted: s.inserted,
    latest_changed: s.latestChanged,
    dead_lettered: s.deadLettered,
    retried: s.retried,
    errors: s.errors,
    ms: deps.now() - started,
  });
}
