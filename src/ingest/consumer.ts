// Queue consumer of feature-ingest: validate, write Postgres, then the online tiers; retry or dead-letter what fails.

import { describeZodIssues, errorMessage } from "../core/errors";
import {
  type DeadLetterEnvelope,
  type DeadLetterReason,
  type DeadLetterSource,
  IngestMessage,
  jsonBytes,
  MAX_DEAD_LETTER_REASONS,
  planSendBatches,
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
/** The producer of the queue a batch came from, for re-queueing only the online-tier part of a message. */
export type QueueBatchSender = Pick<Queue, "sendBatch">;

/** Everything the consumer touches, passed in: tests swap any of it for a broken or recording one. */
export interface IngestConsumerDeps {
  registry: () => Promise<CompiledRegistry>;
  /** Source of truth; undefined when DATABASE_URL is not configured (the tier is off). */
  postgres: PostgresFeatureWriter | undefined;
  /** The online tiers written after Postgres (tiers.ts onlineWriteTargets); each takes the types it serves. */
  online: readonly OnlineStore[];
  dlq: QueueSender;
  /**
   * The producer of the named queue (the one a batch came from): a message whose Postgres write is
   * durable but whose online tiers failed goes back on it carrying only those tiers, so its retry
   * does not redo the Postgres statement. Absent, or its send failing: the message is retried whole
   * (idempotent, just more work).
   */
  requeue?: (queueName: string) => QueueBatchSender | undefined;
  now: () => number;
  log: Logger;
}

export interface IngestBatchSummary {
  messages: number;
  written: number;
  deadLettered: Record<DeadLetterSource, number>;
  retried: number;
  /** Messages acked and re-queued with only their failed online tiers left (Postgres is durable). */
  requeued: number;
  /** Messages whose Postgres part was skipped because an earlier delivery made it durable. */
  postgresSkipped: number;
  inserted: number;
  latestChanged: number;
  /** Wall time of each step of the write (keys = idempotency hashing, postgres, each online tier), ms. */
  phaseMs: Record<string, number>;
  /** "feature/rule" → rejected values in this batch. */
  rejects: Record<string, number>;
  errors: Record<string, number>;
}

interface Accepted {
  msg: Message<unknown>;
  body: IngestMessage;
  writes: ResolvedWrite[];
  eventTimestamp: number;
  /** Deliveries so far, this one included, across re-queues (message attempts + prior_attempts). */
  attempts: number;
}

/** Why a message was not fully written: `pendingTiers` is set when Postgres is durable and only these online tiers failed. */
interface WriteFailure {
  error: string;
  pendingTiers?: string[];
}

/**
 * Handles one batch. Every message ends acked (written, dead-lettered with reasons, or re-queued
 * with its failed online tiers) or retried with backoff; nothing is acked before its Postgres write
 * succeeded. Online tiers are written after Postgres; when one fails, the message goes back on its
 * queue with `pending_tiers` (only those tiers, not Postgres, on the next delivery), or, when that
 * send fails, is retried whole, which is harmless because the Postgres write is idempotent and
 * every tier applies last-write-wins by event time.
 */
export async function consumeIngestBatch(batch: MessageBatch<unknown>, deps: IngestConsumerDeps): Promise<IngestBatchSummary> {
  const started = deps.now();
  const summary: IngestBatchSummary = {
    messages: batch.messages.length,
    written: 0,
    deadLettered: { validation: 0, retries_exhausted: 0, parse: 0 },
    retried: 0,
    requeued: 0,
    postgresSkipped: 0,
    inserted: 0,
    latestChanged: 0,
    phaseMs: {},
    rejects: {},
    errors: {},
  };
  const deadLetter = (
    msg: Message<unknown>,
    source: DeadLetterSource,
    reasons: DeadLetterReason[],
    error?: string,
    attempts = msg.attempts,
  ) =>
    sendToDeadLetters(msg, batch.queue, source, reasons, error, attempts, deps).then((ok) => {
      if (ok) summary.deadLettered[source] += 1;
      else summary.retried += 1;
    });
  const countError = (error: string) => {
    for (const part of error.split("; ")) {
      const tier = part.split(":")[0] ?? "unknown";
      summary.errors[tier] = (summary.errors[tier] ?? 0) + 1;
    }
  };
  const exhausted = (msg: Message<unknown>, error: string, attempts: number) =>
    deadLetter(
      msg,
      "retries_exhausted",
      [reason("*", "retries_exhausted", `write failed on attempt ${attempts}: ${error}`)],
      error,
      attempts,
    );
  const fail = async (msg: Message<unknown>, error: string, attempts = msg.attempts) => {
    countError(error);
    if (attempts > MAX_RETRIES) await exhausted(msg, error, attempts);
    else {
      msg.retry({ delaySeconds: retryDelaySeconds(attempts) });
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
    const attempts = msg.attempts + (parsed.data.prior_attempts ?? 0);
    accepted.push({ msg, body: parsed.data, writes: check.writes, eventTimestamp: check.eventTimestamp, attempts });
  }

  const failures = await writeAccepted(accepted, deps, summary);
  const continued: { item: Accepted; failure: Required<WriteFailure> }[] = [];
  accepted.forEach((item, i) => {
    const failure = failures.get(i);
    if (failure === undefined) {
      item.msg.ack();
      summary.written += 1;
    } else if (failure.pendingTiers && item.attempts <= MAX_RETRIES) {
      countError(failure.error);
      continued.push({ item, failure: { error: failure.error, pendingTiers: failure.pendingTiers } });
    } else pending.push(fail(item.msg, failure.error, item.attempts));
  });
  if (continued.length > 0) pending.push(requeueTiers(continued, batch.queue, deps, summary));
  await Promise.all(pending);
  if (Object.keys(summary.rejects).length > 0) deps.log({ event: "ingest_rejects", queue: batch.queue, rejects: summary.rejects });
  logSummary(batch.queue, summary, started, deps);
  return summary;
}

/**
 * Postgres first (one statement for the whole batch), then the online tiers in parallel through the
 * tier port: Redis (every feature, one pipeline), the Durable Object (stream features), KV (batch
 * features, one merge per entity). A message re-queued with `pending_tiers` skips Postgres and
 * every tier not listed. Returns each message that is not fully written, with the first error.
 */
async function writeAccepted(items: Accepted[], deps: IngestConsumerDeps, summary: IngestBatchSummary): Promise<Map<number, WriteFailure>> {
  const failures = new Map<number, WriteFailure>();
  if (items.length === 0) return failures;
  let mark = deps.now();
  const lap = (phase: string, from = mark) => {
    const t = deps.now();
    summary.phaseMs[phase] = t - from;
    mark = t;
  };
  const groups: FeatureValueRow[][] = items.map((item) =>
    item.writes.map((w) => ({
      entityType: item.body.entity_type,
      entityId: item.body.entity_id,
      featureName: w.def.name,
      value: w.value ?? null,
      eventTimestamp: item.eventTimestamp,
      idempotencyKey: idempotencyKey(item.body.entity_type, item.body.entity_id, w.def.name, item.eventTimestamp, w.value),
      runId: item.body.run_id,
    })),
  );

  lap("keys");
  if (deps.postgres) {
    // Messages whose Postgres part an earlier delivery made durable send no rows (no double work).
    const pgGroups = groups.map((g, i) => (items[i]!.body.pending_tiers ? [] : g));
    summary.postgresSkipped = items.filter((item) => item.body.pending_tiers).length;
    try {
      const result = await deps.postgres.write(pgGroups);
      summary.inserted = result.inserted;
      summary.latestChanged = result.latestChanged;
      for (const [i, err] of result.failed) failures.set(i, { error: `postgres: ${truncate(errorMessage(err), MAX_ERROR_CHARS)}` });
    } catch (err) {
      const error = `postgres: ${truncate(errorMessage(err), MAX_ERROR_CHARS)}`;
      items.forEach((item, i) => {
        if (!item.body.pending_tiers) failures.set(i, { error });
      });
      if (failures.size === items.length) return failures;
    } finally {
      lap("postgres");
    }
  }

  const tierErrors = items.map((): { tier: string; error: string }[] => []);
  const tierError = (tier: string, err: unknown) => `${tier}: ${truncate(errorMessage(err), MAX_ERROR_CHARS)}`;

  // Every tier in parallel, one call per tier for all entities (Redis: one pipelined round trip);
  // each tier gets only the features of the computation types it serves, from the messages that
  // still need it.
  await Promise.all(
    deps.online.map(async (tier) => {
      const tierStarted = deps.now();
      const { writes, owners } = coalesce(items, groups, failures, tier);
      if (writes.length === 0) return;
      const record = (messages: number[], err: unknown) => {
        for (const i of messages) tierErrors[i]!.push({ tier: tier.tier, error: tierError(tier.tier, err) });
      };
      try {
        const results = await tier.writeIfNewer(writes);
        results.forEach((r, j) => {
          if (r instanceof Error) record(owners[j]!, r);
        });
      } catch (err) {
        for (const messages of owners) record(messages, err);
      } finally {
        summary.phaseMs[tier.tier] = deps.now() - tierStarted;
      }
    }),
  );
  tierErrors.forEach((errors, i) => {
    if (errors.length === 0 || failures.has(i)) return;
    failures.set(i, { error: errors.map((e) => e.error).join("; "), pendingTiers: [...new Set(errors.map((e) => e.tier))] });
  });
  return failures;
}

/**
 * One write per entity for a tier: the newest value per feature by event time (ties: the greater
 * tiebreak, as every tier decides them) over the batch's messages that need this tier, so the tier
 * never sees an older value after a newer one. `owners[j]` = the messages behind `writes[j]`.
 */
function coalesce(
  items: Accepted[],
  groups: FeatureValueRow[][],
  failures: Map<number, WriteFailure>,
  tier: OnlineStore,
): { writes: OnlineWrite[]; owners: number[][] } {
  const entities = new Map<string, { ref: EntityRef; messages: number[]; values: Record<string, TimedValue> }>();
  items.forEach((item, i) => {
    if (failures.has(i)) return;
    if (item.body.pending_tiers && !item.body.pending_tiers.includes(tier.tier)) return;
    let entity: { ref: EntityRef; messages: number[]; values: Record<string, TimedValue> } | undefined;
    item.writes.forEach((w, j) => {
      if (!tier.serves.has(w.def.computation_type)) return;
      if (!entity) {
        const key = entityMapKey(item.body.entity_type, item.body.entity_id);
        entity = entities.get(key);
        if (!entity) {
          entity = { ref: { entityType: item.body.entity_type, entityId: item.body.entity_id }, messages: [], values: {} };
          entities.set(key, entity);
        }
        entity.messages.push(i);
      }
      const next: TimedValue = {
        value: w.value ?? null,
        eventTimestamp: item.eventTimestamp,
        tiebreak: tiebreakOf(groups[i]![j]!.idempotencyKey),
      };
      if (isNewer(next, entity.values[w.def.name])) entity.values[w.def.name] = next;
    });
  });
  const writes: OnlineWrite[] = [];
  const owners: number[][] = [];
  for (const entity of entities.values()) {
    writes.push({ ref: entity.ref, values: entity.values });
    owners.push(entity.messages);
  }
  return { writes, owners };
}

/**
 * Puts messages whose Postgres part is durable back on their queue with only the failed online
 * tiers, after the usual backoff; acks each once its copy is sent. A copy that cannot be sent
 * leaves its message to a whole retry (idempotent).
 */
async function requeueTiers(
  continued: { item: Accepted; failure: Required<WriteFailure> }[],
  queue: string,
  deps: IngestConsumerDeps,
  summary: IngestBatchSummary,
): Promise<void> {
  const retryWhole = (entries: typeof continued, why: string) => {
    for (const { item, failure } of entries) {
      item.msg.retry({ delaySeconds: retryDelaySeconds(item.attempts) });
      summary.retried += 1;
      deps.log({ event: "ingest_requeue_failed", level: "warn", queue, message_id: item.msg.id, error: failure.error, why });
    }
  };
  const sender = deps.requeue?.(queue);
  if (!sender) {
    retryWhole(continued, "no producer for this queue");
    return;
  }
  const copies = continued.map((entry) => ({
    entry,
    body: { ...entry.item.body, pending_tiers: entry.failure.pendingTiers, prior_attempts: entry.item.attempts } satisfies IngestMessage,
  }));
  const sizes = new Map(copies.map((c) => [c, jsonBytes(c.body)]));
  await Promise.all(
    planSendBatches(copies, (c) => sizes.get(c)!).map(async (chunk) => {
      try {
        await sender.sendBatch(
          chunk.map((c) => ({ body: c.body, contentType: "json" as const, delaySeconds: retryDelaySeconds(c.entry.item.attempts) })),
        );
      } catch (err) {
        retryWhole(
          chunk.map((c) => c.entry),
          errorMessage(err),
        );
        return;
      }
      for (const c of chunk) c.entry.item.msg.ack();
      summary.requeued += chunk.length;
    }),
  );
}

/** Wraps the original message with its reasons and sends it to the DLQ; acks on success, retries when the DLQ is unreachable. */
async function sendToDeadLetters(
  msg: Message<unknown>,
  queue: string,
  source: DeadLetterSource,
  reasons: DeadLetterReason[],
  error: string | undefined,
  attempts: number,
  deps: IngestConsumerDeps,
): Promise<boolean> {
  const kept = reasons.slice(0, MAX_DEAD_LETTER_REASONS);
  if (reasons.length > kept.length) kept.push(reason("*", "truncated", `${reasons.length - kept.length} more reasons not shown`));
  const envelope: DeadLetterEnvelope = {
    dead_letter: {
      source,
      reasons: kept,
      ...(error === undefined ? {} : { error: truncate(error, MAX_ERROR_CHARS) }),
      attempts,
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
    requeued: s.requeued,
    postgres_skipped: s.postgresSkipped,
    phase_ms: s.phaseMs,
    errors: s.errors,
    ms: deps.now() - started,
  });
}
