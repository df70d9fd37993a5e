// Queue consumer of feature-ingest-dlq: stores every dead letter in Postgres with its reasons.

import { errorMessage } from "../core/errors";
import { DeadLetterEnvelope, type DeadLetterReason, type DeadLetterSource, IngestMessage } from "../core/ingest-message";
import type { Logger } from "../core/log";
import { MAX_RETRIES, retryDelaySeconds } from "./consumer";
import type { DeadLetterRow, DeadLetterStore } from "./dead-letter-store";

/** Matches max_retries of the feature-ingest-dlq consumer in wrangler.ingest.toml. */
export const DLQ_MAX_RETRIES = 10;
export const MOVED_BY_PLATFORM = "retries_exhausted (moved by the platform)";

export interface DeadLetterConsumerDeps {
  /** undefined when DATABASE_URL is not configured: dead letters are then logged in full. */
  store: DeadLetterStore | undefined;
  log: Logger;
}

/** A dead letter as it arrived: our envelope, or a message the platform moved after max_retries. */
export function toDeadLetterRow(msg: Message<unknown>): DeadLetterRow {
  const envelope = DeadLetterEnvelope.safeParse(msg.body);
  let original: unknown;
  let source: DeadLetterSource;
  let reasons: DeadLetterReason[];
  let attempts: number;
  if (envelope.success) {
    original = envelope.data.message;
    source = envelope.data.dead_letter.source;
    reasons = envelope.data.dead_letter.reasons;
    attempts = envelope.data.dead_letter.attempts;
  } else {
    // Our consumer dead-letters exhausted messages itself; this one was moved by the platform
    // (e.g. the consumer crashed or timed out on every attempt), so it went through all of them.
    original = msg.body;
    source = "retries_exhausted";
    reasons = [{ feature: "*", rule: "retries_exhausted", message: MOVED_BY_PLATFORM }];
    attempts = MAX_RETRIES + 1;
  }
  const parsed = IngestMessage.safeParse(original);
  return {
    messageId: parsed.success ? parsed.data.update_id : `queue:${msg.id}`,
    message: original ?? null,
    reasons,
    source,
    attempts,
    ingestSource: parsed.success ? parsed.data.source : undefined,
    runId: parsed.success ? parsed.data.run_id : undefined,
  };
}

export async function consumeDeadLetters(batch: MessageBatch<unknown>, deps: DeadLetterConsumerDeps): Promise<{ stored: number }> {
  const rows = batch.messages.map(toDeadLetterRow);
  if (!deps.store) {
    for (const row of rows) deps.log({ event: "dead_letter_unstored", reason: "DATABASE_URL not set", ...row });
    batch.ackAll();
    return { stored: 0 };
  }
  try {
    const stored = await deps.store.store(rows);
    batch.ackAll();
    deps.log({ event: "dead_letters_stored", queue: batch.queue, messages: rows.length, new: stored });
    return { stored };
  } catch (err) {
    const error = errorMessage(err);
    for (const [i, msg] of batch.messages.entries()) {
      if (msg.attempts > DLQ_MAX_RETRIES) {
        // The platform drops a dead letter after this; keep it in the Worker logs at least.
        deps.log({ event: "dead_letter_dropped", level: "error", error, ...rows[i] });
        msg.ack();
      } else msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
    }
    deps.log({ event: "dead_letters_store_failed", queue: batch.queue, messages: rows.length, error });
    return { stored: 0 };
  }
}
