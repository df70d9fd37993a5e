// The feature-ingest consumer inside workerd with real Postgres, Redis, KV and Durable Objects: LWW, idempotency, DLQ, retries.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DeadLetterEnvelope, IngestMessage } from "../../src/core/ingest-message";
import { decodeTimedValue, encodeTimedValue, isNewer, tiebreakOf } from "../../src/core/keys";
import { mulberry32 } from "../../src/core/random";
import { CompiledRegistry } from "../../src/core/registry";
import { consumeIngestBatch, type IngestConsumerDeps, MAX_RETRIES, retryDelaySeconds } from "../../src/ingest/consumer";
import { consumeDeadLetters } from "../../src/ingest/dead-letter-consumer";
import worker, { queueRole } from "../../src/ingest/index";
import { idempotencyKey, PostgresFeatureWriter } from "../../src/stores/postgres-writer";
import { AS_OF_ORDER } from "../../src/training/point-in-time-sql";
import {
  applyTestRegistry,
  featureValueCount,
  inDurableObject,
  inKv,
  inRedis,
  latestInPostgres,
  message,
  pgConfig,
  plain,
  queued,
  recordingQueue,
  redisAvailable,
  redisOrSkip,
  redisStore,
  sql,
  testDeps,
  UNREACHABLE_DATABASE_URL,
  UNREACHABLE_REDIS_URL,
  uid,
} from "./support";

const workerEnv = env;
const MINUTE = 60_000;

beforeAll(applyTestRegistry);

/** Runs messages through the Worker's real queue() handler and returns what it acked and retried. */
async function deliver(queueName: string, messages: ReturnType<typeof queued>[]) {
  const batch = createMessageBatch(queueName, messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, workerEnv);
  return getQueueResult(batch, ctx);
}

/**
 * Runs messages through the consumer with the given (possibly broken) dependencies. getQueueResult
 * does not report retry delays, so the messages are wrapped to record the delay of each retry.
 */
async function consumeWith(deps: IngestConsumerDeps, messages: ReturnType<typeof queued>[]) {
  const batch = createMessageBatch("feature-ingest", messages);
  const ctx = createExecutionContext();
  const delays: { msgId: string; delaySeconds: number | undefined }[] = [];
  const spied = {
    queue: batch.queue,
    metadata: batch.metadata,
    messages: batch.messages.map((m) => ({
      id: m.id,
      timestamp: m.timestamp,
      body: m.body,
      attempts: m.attempts,
      ack: () => m.ack(),
      retry: (o?: QueueRetryOptions) => {
        delays.push({ msgId: m.id, delaySeconds: o?.delaySeconds });
        m.retry(o);
      },
    })),
    ackAll: () => batch.ackAll(),
    retryAll: (o?: QueueRetryOptions) => batch.retryAll(o),
  } as MessageBatch<unknown>;
  const summary = await consumeIngestBatch(spied, deps);
  const result = await getQueueResult(batch, ctx);
  return { summary, result: { ...result, retryMessages: delays } };
}

describe("feature-ingest consumer: last-write-wins by event time", () => {
  it("leaves the newer value in Postgres, Redis, KV and the Durable Object when an older event arrives after it", async () => {
    const ref = { entityType: "user", entityId: uid("user_lww") };
    const t = Date.now() - 10 * MINUTE;
    const newer = message({ id: ref.entityId }, t, { tst_plays_1h: 10, tst_affinity: 0.9 });
    const older = message({ id: ref.entityId }, t - 5 * MINUTE, { tst_plays_1h: 5, tst_affinity: 0.1 });

    for (const m of [newer, older]) {
      const result = await deliver("feature-ingest", [queued(m)]);
      expect(result.explicitAcks).toHaveLength(1);
      expect(result.retryMessages).toEqual([]);
    }

    const expected = { tst_plays_1h: { value: 10, eventTimestamp: t }, tst_affinity: { value: 0.9, eventTimestamp: t } };
    expect(await latestInPostgres("user", ref.entityId)).toEqual(expected);
    expect(plain(await inDurableObject(ref, ["tst_plays_1h", "tst_affinity"]))).toEqual({ tst_plays_1h: expected.tst_plays_1h });
    expect(plain(await inKv(ref))).toEqual({ tst_affinity: expected.tst_affinity });
    if (redisOrSkip("LWW in Redis")) expect(plain(await inRedis(ref, ["tst_plays_1h", "tst_affinity"]))).toEqual(expected);
    // The time series keeps both events: point-in-time reads need the older one too.
    expect(await featureValueCount("user", ref.entityId)).toBe(4);
  });

  it("writes a delivered-three-times message once to feature_values", async () => {
    const id = uid("user_dup");
    const m = message({ id }, Date.now() - MINUTE, { tst_plays_1h: 3 });
    const first = await deliver("feature-ingest", [queued(m), queued(m)]);
    const again = await deliver("feature-ingest", [queued(m, 2)]);
    expect(first.explicitAcks).toHaveLength(2);
    expect(again.explicitAcks).toHaveLength(1);
    expect(await featureValueCount("user", id)).toBe(1);
    expect(await latestInPostgres("user", id)).toEqual({ tst_plays_1h: { value: 3, eventTimestamp: m.event_timestamp } });
  });

  it("ends a shuffled batch with duplicates and redeliveries in the LWW state in all four stores", async () => {
    const random = mulberry32(20261128);
    const entities = [uid("user_shuf"), uid("user_shuf"), uid("user_shuf")];
    const base = Date.now() - 60 * MINUTE;
    const events: IngestMessage[] = [];
    const expected = new Map<string, Record<string, { value: unknown; eventTimestamp: number }>>();
    entities.forEach((id, e) => {
      const want: Record<string, { value: unknown; eventTimestamp: number }> = {};
      for (let k = 0; k < 8; k++) {
        // Distinct event times per entity; arrival order is whatever the shuffle makes it.
        const ts = base + (e * 100 + k) * 1000;
        const plays = e * 100 + k;
        const affinity = Math.round(((k + 1) / 10) * 100) / 100;
        events.push(message({ id }, ts, { tst_plays_1h: plays, tst_affinity: affinity }));
        want.tst_plays_1h = { value: plays, eventTimestamp: ts };
        want.tst_affinity = { value: affinity, eventTimestamp: ts };
      }
      expected.set(id, want);
    });
    const duplicates = events.filter(() => random() < 0.4);
    const shuffled = [...events, ...duplicates]
      .map((m) => ({ m, r: random() }))
      .sort((a, b) => a.r - b.r)
      .map((x) => x.m);

    const first = await deliver(
      "feature-ingest",
      shuffled.map((m) => queued(m)),
    );
    expect(first.explicitAcks).toHaveLength(shuffled.length);
    // At-least-once: part of it is delivered again later, oldest first.
    const redelivered = [...events].sort((a, b) => Number(a.event_timestamp) - Number(b.event_timestamp)).slice(0, 10);
    const second = await deliver(
      "feature-ingest",
      redelivered.map((m) => queued(m, 2)),
    );
    expect(second.explicitAcks).toHaveLength(redelivered.length);

    for (const id of entities) {
      const ref = { entityType: "user", entityId: id };
      const want = expected.get(id)!;
      expect(await latestInPostgres("user", id)).toEqual(want);
      expect(plain(await inDurableObject(ref, ["tst_plays_1h"]))).toEqual({ tst_plays_1h: want.tst_plays_1h });
      expect(plain(await inKv(ref))).toEqual({ tst_affinity: want.tst_affinity });
      if (redisOrSkip("shuffled LWW in Redis")) expect(plain(await inRedis(ref, ["tst_plays_1h", "tst_affinity"]))).toEqual(want);
      expect(await featureValueCount("user", id)).toBe(16);
    }
  });
});

describe("feature-ingest consumer: equal event times", () => {
  /** The tiebreak of a value as the consumer computes it (first 16 hex characters of its idempotency key). */
  const tb = async (id: string, feature: string, ts: number, value: unknown) => tiebreakOf(idempotencyKey("user", id, feature, ts, value));

  async function expectEverywhere(id: string, ts: number, plays: number, affinity: number) {
    const ref = { entityType: "user", entityId: id };
    const want = {
      tst_plays_1h: { value: plays, eventTimestamp: ts, tiebreak: await tb(id, "tst_plays_1h", ts, plays) },
      tst_affinity: { value: affinity, eventTimestamp: ts, tiebreak: await tb(id, "tst_affinity", ts, affinity) },
    };
    expect(await latestInPostgres("user", id, true)).toEqual(want);
    expect(await inDurableObject(ref, ["tst_plays_1h"])).toEqual({ tst_plays_1h: want.tst_plays_1h });
    expect(await inKv(ref)).toEqual({ tst_affinity: want.tst_affinity });
    if (redisOrSkip("equal event times in Redis")) expect(await inRedis(ref, ["tst_plays_1h", "tst_affinity"])).toEqual(want);
    // A training set's as-of lookup at that time picks the same values (same tiebreak rule).
    for (const [feature, v] of Object.entries(want)) {
      const [row] = await sql<{ feature_value: unknown }>(
        `select fv.feature_value from feature_values fv
          where fv.entity_type = 'user' and fv.entity_id = $1 and fv.feature_name = $2 and fv.event_timestamp <= timestamptz 'epoch' + $3::bigint * interval '1 millisecond'
          order by ${AS_OF_ORDER} limit 1`,
        [id, feature, ts],
      );
      expect(row?.feature_value, feature).toEqual(v.value);
    }
  }

  it("settles two different values with the same event time on the same winner in every store, whatever their order", async () => {
    const ts = Date.now() - 7 * MINUTE;
    const a = { tst_plays_1h: 11, tst_affinity: 0.11 };
    const b = { tst_plays_1h: 22, tst_affinity: 0.22 };
    // Per feature the winner is the value with the greater tiebreak, and it depends on the entity id.
    const winner = async (id: string) => ({
      plays:
        (await tb(id, "tst_plays_1h", ts, a.tst_plays_1h)) > (await tb(id, "tst_plays_1h", ts, b.tst_plays_1h))
          ? a.tst_plays_1h
          : b.tst_plays_1h,
      affinity:
        (await tb(id, "tst_affinity", ts, a.tst_affinity)) > (await tb(id, "tst_affinity", ts, b.tst_affinity))
          ? a.tst_affinity
          : b.tst_affinity,
    });
    const inOrder = uid("user_tie");
    const reversed = uid("user_tie");
    const together = uid("user_tie");
    for (const m of [
      message({ id: inOrder }, ts, a),
      message({ id: inOrder }, ts, b),
      message({ id: reversed }, ts, b),
      message({ id: reversed }, ts, a),
    ]) {
      const result = await deliver("feature-ingest", [queued(m)]);
      expect(result.explicitAcks).toHaveLength(1);
    }
    // Both in one batch (the consumer's per-entity coalescing and Postgres' DISTINCT ON decide), then redelivered.
    const pair = [message({ id: together }, ts, b), message({ id: together }, ts, a)];
    expect(
      (
        await deliver(
          "feature-ingest",
          pair.map((m) => queued(m)),
        )
      ).explicitAcks,
    ).toHaveLength(2);
    expect((await deliver("feature-ingest", [queued(pair[1]!, 2), queued(pair[0]!, 2)])).explicitAcks).toHaveLength(2);

    for (const id of [inOrder, reversed, together]) {
      const w = await winner(id);
      await expectEverywhere(id, ts, w.plays, w.affinity);
    }
  });

  it("applies the tiebreak in Redis' compare-and-set, old-format values ranking lowest", async () => {
    if (!redisOrSkip("tiebreak in the Redis script")) return;
    const ref = { entityType: "user", entityId: uid("user_cas") };
    const put = async (value: number, tiebreak?: string) =>
      (await redisStore().writeIfNewer([{ ref, values: { f: { value, eventTimestamp: 5_000, tiebreak } } }]))[0];
    expect(await put(1)).toEqual(["f"]);
    expect(await put(2, "00")).toEqual(["f"]);
    expect(await put(3, "0")).toEqual([]);
    expect(await put(4)).toEqual([]);
    expect(await put(5, "01")).toEqual(["f"]);
    expect((await redisStore().writeIfNewer([{ ref, values: { f: { value: 6, eventTimestamp: 4_999, tiebreak: "ff" } } }]))[0]).toEqual([]);
    expect(await inRedis(ref, ["f"])).toEqual({ f: { value: 5, eventTimestamp: 5_000, tiebreak: "01" } });
  });

  it("orders an old-format value (no tiebreak) below any value with the same event time", () => {
    const old = { value: 1, eventTimestamp: 5 };
    const next = { value: 2, eventTimestamp: 5, tiebreak: "0000000000000000" };
    expect(isNewer(next, old)).toBe(true);
    expect(isNewer(old, next)).toBe(false);
    expect(isNewer(old, { ...old })).toBe(false);
    expect(decodeTimedValue(encodeTimedValue(next))).toEqual(next);
    expect(decodeTimedValue("5|1")).toEqual(old);
  });
});

describe("feature-ingest consumer: invalid messages go whole to the DLQ", () => {
  it("dead-letters a message with any invalid feature with every reason, writes none of it, and still writes its valid neighbour", async () => {
    const deps = testDeps();
    const dlq = recordingQueue();
    const bad = message({ id: uid("user_bad") }, Date.now() - MINUTE, {
      tst_plays_1h: 4, // valid, but the message is rejected as a whole
      tst_affinity: 1.5,
      tst_last_genre: "metal",
      tst_required: null,
      tst_time_of_day: "night",
      tst_session_tracks: 2,
      no_such_feature: 1,
      "tst_user_batch:tst_embedding": [1, 2],
    });
    const good = message({ id: uid("user_good") }, Date.now() - MINUTE, { "tst_user_stream:tst_plays_1h": 7 });
    const badMsg = queued(bad);
    const goodMsg = queued(good);

    const { result, summary } = await consumeWith({ ...deps.consumer, dlq }, [badMsg, goodMsg]);
    expect(result.explicitAcks.sort()).toEqual([badMsg.id, goodMsg.id].sort());
    expect(result.retryMessages).toEqual([]);
    expect(summary.deadLettered.validation).toBe(1);
    expect(summary.rejects["tst_affinity/max_value"]).toBe(1);

    expect(dlq.sent).toHaveLength(1);
    const envelope = dlq.sent[0] as DeadLetterEnvelope;
    expect(envelope.message).toEqual(bad);
    expect(envelope.dead_letter.source).toBe("validation");
    const rules = envelope.dead_letter.reasons.map((r) => `${r.feature}/${r.rule}`).sort();
    expect(rules).toEqual(
      [
        "no_such_feature/unknown_feature",
        "tst_affinity/max_value",
        "tst_embedding/dimension",
        "tst_last_genre/allowed_values",
        "tst_required/null_policy",
        "tst_session_tracks/wrong_entity_type",
        "tst_time_of_day/not_writable",
      ].sort(),
    );
    expect(envelope.dead_letter.reasons.find((r) => r.rule === "max_value")?.message).toContain("above max_value 1");

    const badRef = { entityType: "user", entityId: bad.entity_id };
    expect(await latestInPostgres("user", bad.entity_id)).toEqual({});
    expect(await featureValueCount("user", bad.entity_id)).toBe(0);
    expect(await inDurableObject(badRef, ["tst_plays_1h"])).toEqual({});
    expect(await inKv(badRef)).toEqual({});
    if (redisOrSkip("nothing of a rejected message in Redis")) expect(await inRedis(badRef, ["tst_plays_1h", "tst_affinity"])).toEqual({});
    expect(await latestInPostgres("user", good.entity_id)).toEqual({ tst_plays_1h: { value: 7, eventTimestamp: good.event_timestamp } });

    // The DLQ consumer stores it with its reasons (once, however often it is delivered) and counts the rejects.
    const countBefore = await rejectCount("tst_affinity", "max_value");
    for (const attempts of [1, 2]) {
      const stored = await deliver("feature-ingest-dlq", [queued(envelope, attempts)]);
      expect(stored.explicitAcks.length + (stored.ackAll ? 1 : 0)).toBeGreaterThan(0);
    }
    const rows = await sql<{ source: string; reasons: { feature: string; rule: string }[]; message: unknown; attempts: number }>(
      "select source, reasons, message, attempts from dead_letters where message_id = $1",
      [bad.update_id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.source).toBe("validation");
    expect(rows[0]!.message).toEqual(bad);
    expect(rows[0]!.reasons.map((r) => `${r.feature}/${r.rule}`).sort()).toEqual(rules);
    expect(await rejectCount("tst_affinity", "max_value")).toBe(countBefore + 1);
  });

  it("dead-letters a body that is not an update (source parse)", async () => {
    const dlq = recordingQueue();
    const msg = queued({ entity_type: "user", features: "nope" });
    const { result } = await consumeWith({ ...testDeps().consumer, dlq }, [msg]);
    expect(result.explicitAcks).toEqual([msg.id]);
    const envelope = dlq.sent[0] as DeadLetterEnvelope;
    expect(envelope.dead_letter.source).toBe("parse");
    expect(envelope.dead_letter.reasons.map((r) => r.feature)).toEqual(
      expect.arrayContaining(["entity_id", "event_timestamp", "features"]),
    );
  });

  it("refuses event times far in the future (they would win LWW until the clock caught up)", async () => {
    const dlq = recordingQueue();
    const msg = queued(message({ id: uid("user_future") }, Date.now() + 24 * 60 * MINUTE, { tst_plays_1h: 1 }));
    await consumeWith({ ...testDeps().consumer, dlq }, [msg]);
    expect((dlq.sent[0] as DeadLetterEnvelope).dead_letter.reasons).toEqual([
      expect.objectContaining({ feature: "*", rule: "event_timestamp" }),
    ]);
  });
});

async function rejectCount(feature: string, rule: string): Promise<number> {
  const rows = await sql<{ n: number }>(
    "select coalesce(sum(rejected), 0)::int as n from ingest_rejects where feature_name = $1 and rule = $2",
    [feature, rule],
  );
  return rows[0]?.n ?? 0;
}

describe("feature-ingest consumer: failures retry with backoff, then dead-letter with a reason", () => {
  it("backs off exponentially", () => {
    expect([1, 2, 3, 4, 5, 6].map(retryDelaySeconds)).toEqual([5, 15, 45, 135, 405, 900]);
  });

  it("retries a message while Postgres is unreachable and, after max_retries, dead-letters it with the error", async () => {
    const broken = testDeps({ DATABASE_URL: UNREACHABLE_DATABASE_URL });
    const dlq = recordingQueue();
    const deps = { ...broken.consumer, dlq };
    const m = message({ id: uid("user_poison") }, Date.now() - MINUTE, { tst_plays_1h: 9, tst_affinity: 0.5 });
    const ref = { entityType: "user", entityId: m.entity_id };

    for (const attempts of [1, 3]) {
      const msg = queued(m, attempts);
      const { result } = await consumeWith(deps, [msg]);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toEqual([{ msgId: msg.id, delaySeconds: retryDelaySeconds(attempts) }]);
    }
    // Nothing reaches an online tier before Postgres has it.
    expect(await inDurableObject(ref, ["tst_plays_1h"])).toEqual({});
    expect(await inKv(ref)).toEqual({});
    expect(dlq.sent).toEqual([]);

    const last = queued(m, MAX_RETRIES + 1);
    const { result } = await consumeWith(deps, [last]);
    expect(result.explicitAcks).toEqual([last.id]);
    expect(result.retryMessages).toEqual([]);
    const envelope = dlq.sent[0] as DeadLetterEnvelope;
    expect(envelope.dead_letter.source).toBe("retries_exhausted");
    expect(envelope.dead_letter.attempts).toBe(MAX_RETRIES + 1);
    expect(envelope.dead_letter.error).toMatch(/^postgres: /);
    expect(envelope.dead_letter.reasons).toEqual([expect.objectContaining({ feature: "*", rule: "retries_exhausted" })]);
    expect(envelope.message).toEqual(m);

    await deliver("feature-ingest-dlq", [queued(envelope)]);
    const rows = await sql<{ source: string; attempts: number; reasons: { rule: string; message: string }[] }>(
      "select source, attempts, reasons from dead_letters where message_id = $1",
      [m.update_id],
    );
    expect(rows).toEqual([
      { source: "retries_exhausted", attempts: MAX_RETRIES + 1, reasons: [expect.objectContaining({ rule: "retries_exhausted" })] },
    ]);
    expect(rows[0]!.reasons[0]!.message).toContain("postgres");
  });

  it("loses nothing when Postgres is down for a batch: every message is retried and written once it is back", async () => {
    const ids = [uid("user_pgdown"), uid("user_pgdown"), uid("user_pgdown")];
    const t = Date.now() - 2 * MINUTE;
    const bodies = ids.map((id, i) => message({ id }, t + i, { tst_plays_1h: i + 1, tst_affinity: (i + 1) / 10 }));
    const down = await consumeWith(
      { ...testDeps({ DATABASE_URL: UNREACHABLE_DATABASE_URL }).consumer, dlq: recordingQueue() },
      bodies.map((b) => queued(b)),
    );
    expect(down.result.explicitAcks).toEqual([]);
    expect(down.result.retryMessages).toHaveLength(3);
    for (const id of ids) expect(await latestInPostgres("user", id)).toEqual({});

    const back = await consumeWith(
      testDeps().consumer,
      bodies.map((b) => queued(b, 2)),
    );
    expect(back.result.explicitAcks).toHaveLength(3);
    for (const [i, id] of ids.entries()) {
      expect(await latestInPostgres("user", id)).toEqual({
        tst_plays_1h: { value: i + 1, eventTimestamp: t + i },
        tst_affinity: { value: (i + 1) / 10, eventTimestamp: t + i },
      });
      expect(plain(await inKv({ entityType: "user", entityId: id }))).toEqual({
        tst_affinity: { value: (i + 1) / 10, eventTimestamp: t + i },
      });
    }
  });

  it("writes Postgres and re-queues only Redis' part while Redis is down; the copy fills Redis without a Postgres statement", async () => {
    const down = testDeps({ UPSTASH_REDIS_REST_URL: UNREACHABLE_REDIS_URL, UPSTASH_REDIS_REST_TOKEN: "any" });
    const m = message({ id: uid("user_redisdown") }, Date.now() - MINUTE, { tst_plays_1h: 42 });
    const ref = { entityType: "user", entityId: m.entity_id };
    const first = queued(m);
    const requeue = recordingQueue();
    const { result, summary } = await consumeWith({ ...down.consumer, dlq: recordingQueue(), requeue: () => requeue }, [first]);
    // Postgres is durable, so the message is done; a copy carrying only the Redis part goes back on the queue.
    expect(result.explicitAcks).toEqual([first.id]);
    expect(result.retryMessages).toEqual([]);
    expect(summary.errors.redis).toBe(1);
    expect(summary.requeued).toBe(1);
    expect(requeue.sent).toEqual([{ ...m, pending_tiers: ["redis"], prior_attempts: 1 }]);
    const want = { tst_plays_1h: { value: 42, eventTimestamp: m.event_timestamp } };
    expect(await latestInPostgres("user", m.entity_id)).toEqual(want);
    expect(plain(await inDurableObject(ref, ["tst_plays_1h"]))).toEqual(want);

    if (!redisOrSkip("Redis filled by the re-queued copy")) return;
    expect(await inRedis(ref, ["tst_plays_1h"])).toEqual({});
    const healthy = testDeps().consumer;
    const rows: number[] = [];
    const counting = {
      write: (groups: Parameters<PostgresFeatureWriter["write"]>[0]) => {
        rows.push(groups.flat().length);
        return healthy.postgres!.write(groups);
      },
    } as PostgresFeatureWriter;
    const copy = queued(requeue.sent[0] as IngestMessage);
    const again = await consumeWith({ ...healthy, postgres: counting }, [copy]);
    expect(again.result.explicitAcks).toEqual([copy.id]);
    expect(again.summary.postgresSkipped).toBe(1);
    expect(rows.reduce((a, n) => a + n, 0)).toBe(0);
    expect(plain(await inRedis(ref, ["tst_plays_1h"]))).toEqual(want);
    expect(await featureValueCount("user", m.entity_id)).toBe(1);
  });

  it("retries the whole message (idempotently) when its Redis-only copy cannot be queued", async () => {
    const down = testDeps({ UPSTASH_REDIS_REST_URL: UNREACHABLE_REDIS_URL, UPSTASH_REDIS_REST_TOKEN: "any" });
    const m = message({ id: uid("user_requeuefail") }, Date.now() - MINUTE, { tst_plays_1h: 7 });
    const first = queued(m, 2);
    const refusing = { sendBatch: () => Promise.reject(new Error("queue unavailable")) };
    const { result, summary } = await consumeWith({ ...down.consumer, dlq: recordingQueue(), requeue: () => refusing }, [first]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: first.id, delaySeconds: retryDelaySeconds(2) }]);
    expect(summary.requeued).toBe(0);
    expect(await latestInPostgres("user", m.entity_id)).toEqual({ tst_plays_1h: { value: 7, eventTimestamp: m.event_timestamp } });
  });

  it("dead-letters a re-queued copy once the attempts across copies pass max_retries", async () => {
    const down = testDeps({ UPSTASH_REDIS_REST_URL: UNREACHABLE_REDIS_URL, UPSTASH_REDIS_REST_TOKEN: "any" });
    const m = message(
      { id: uid("user_requeue_dl") },
      Date.now() - MINUTE,
      { tst_plays_1h: 8 },
      { pending_tiers: ["redis"], prior_attempts: MAX_RETRIES },
    );
    const dlq = recordingQueue();
    const requeue = recordingQueue();
    const last = queued(m, 1);
    const { result } = await consumeWith({ ...down.consumer, dlq, requeue: () => requeue }, [last]);
    expect(result.explicitAcks).toEqual([last.id]);
    expect(requeue.sent).toEqual([]);
    const envelope = dlq.sent[0] as DeadLetterEnvelope;
    expect(envelope.dead_letter.source).toBe("retries_exhausted");
    expect(envelope.dead_letter.attempts).toBe(MAX_RETRIES + 1);
    expect(envelope.dead_letter.error).toMatch(/^redis: /);
  });

  it("isolates a message Postgres refuses (data error): only it is retried, its batch neighbours are written", async () => {
    const real = new PostgresFeatureWriter(pgConfig());
    // Validation refuses unstorable text up front; corrupting the row after validation shows the
    // fallback for data errors nobody foresaw.
    const poisoning: Pick<PostgresFeatureWriter, "write"> = {
      write: (groups) => real.write(groups.map((g, i) => (i === 1 ? g.map((row) => ({ ...row, value: "bad \ud800 text" })) : g))),
    };
    const ids = [uid("user_iso"), uid("user_iso"), uid("user_iso")];
    const msgs = ids.map((id, i) => queued(message({ id }, Date.now() - MINUTE, { tst_plays_1h: i })));
    const { result } = await consumeWith(
      { ...testDeps().consumer, postgres: poisoning as PostgresFeatureWriter, dlq: recordingQueue() },
      msgs,
    );
    expect(result.explicitAcks.sort()).toEqual([msgs[0]!.id, msgs[2]!.id].sort());
    expect(result.retryMessages).toEqual([{ msgId: msgs[1]!.id, delaySeconds: retryDelaySeconds(1) }]);
    expect(await featureValueCount("user", ids[0]!)).toBe(1);
    expect(await featureValueCount("user", ids[1]!)).toBe(0);
    expect(await featureValueCount("user", ids[2]!)).toBe(1);
    expect(await inDurableObject({ entityType: "user", entityId: ids[1]! }, ["tst_plays_1h"])).toEqual({});
  });

  it("refuses text Postgres cannot store (NUL, lone surrogates) as a type error", async () => {
    const dlq = recordingQueue();
    const msgs = [
      queued(message({ id: uid("user_nul") }, Date.now() - MINUTE, { tst_top_genres: ["rock", "a\u0000b"] })),
      queued(message({ id: uid("user_sur") }, Date.now() - MINUTE, { tst_top_genres: ["x\ud800"] })),
    ];
    await consumeWith({ ...testDeps().consumer, dlq }, msgs);
    expect(dlq.sent.map((e) => (e as DeadLetterEnvelope).dead_letter.reasons[0]?.rule)).toEqual(["type", "type"]);
  });

  it("waits (retries) while no registry is published rather than dead-lettering everything", async () => {
    const deps: IngestConsumerDeps = { ...testDeps().consumer, registry: async () => CompiledRegistry.empty(), dlq: recordingQueue() };
    const msg = queued(message({ id: uid("user_noreg") }, Date.now(), { tst_plays_1h: 1 }));
    const { result } = await consumeWith(deps, [msg]);
    expect(result.retryMessages).toEqual([{ msgId: msg.id, delaySeconds: 5 }]);
  });
});

describe("queue routing", () => {
  it("routes by queue name, environment suffixes included", () => {
    expect(queueRole("feature-ingest")).toBe("ingest");
    expect(queueRole("feature-ingest-staging")).toBe("ingest");
    expect(queueRole("feature-ingest-dlq")).toBe("dead_letters");
    expect(queueRole("feature-ingest-dlq-production")).toBe("dead_letters");
    expect(queueRole("something-else")).toBeUndefined();
  });

  it("consumes a suffixed queue and retries a batch from an unknown queue instead of dropping it", async () => {
    const id = uid("user_staging");
    const ok = await deliver("feature-ingest-staging", [queued(message({ id }, Date.now() - MINUTE, { tst_plays_1h: 1 }))]);
    expect(ok.explicitAcks).toHaveLength(1);
    const unknown = await deliver("other-queue", [queued(message({ id }, Date.now(), { tst_plays_1h: 2 }))]);
    expect(unknown.retryBatch.retry).toBe(true);
  });

  it("stores a dead letter the platform moved (no envelope) as retries_exhausted", async () => {
    const m = message({ id: uid("user_moved") }, Date.now() - MINUTE, { tst_plays_1h: 1 });
    const batch = createMessageBatch("feature-ingest-dlq", [queued(m)]);
    const ctx = createExecutionContext();
    await consumeDeadLetters(batch, testDeps().deadLetters);
    expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
    const rows = await sql<{ source: string; reasons: { message: string }[] }>(
      "select source, reasons from dead_letters where message_id = $1",
      [m.update_id],
    );
    expect(rows).toEqual([
      {
        source: "retries_exhausted",
        reasons: [expect.objectContaining({ rule: "retries_exhausted", message: "retries_exhausted (moved by the platform)" })],
      },
    ]);
  });

  it("retries dead letters while Postgres is down", async () => {
    const batch = createMessageBatch("feature-ingest-dlq", [queued({ anything: true })]);
    const ctx = createExecutionContext();
    await consumeDeadLetters(batch, testDeps({ DATABASE_URL: UNREACHABLE_DATABASE_URL }).deadLetters);
    const result = await getQueueResult(batch, ctx);
    expect(result.ackAll).toBe(false);
    expect(result.retryMessages).toHaveLength(1);
  });
});

describe("redis availability", () => {
  it("is reported so skipped Redis assertions are visible", () => {
    if (!redisAvailable()) console.warn("!!! Redis not available: Redis assertions in this file were SKIPPED !!!");
    expect(typeof redisAvailable()).toBe("boolean");
  });
});
