// The consumer's batch path inside workerd with real Postgres, Redis, KV and Durable Objects: one statement and
// one pipeline per batch keep last-write-wins and idempotency under replays, a Redis failure mid-batch
// re-queues only Redis' part, and the push and materialization queues both land.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { IngestMessage } from "../../src/core/ingest-message";
import type { OnlineStore } from "../../src/core/online-store";
import { mulberry32 } from "../../src/core/random";
import { consumeIngestBatch, type IngestConsumerDeps } from "../../src/ingest/consumer";
import { isPushQueue } from "../../src/ingest/queues";
import type { PostgresFeatureWriter } from "../../src/stores/postgres-writer";
import {
  applyTestRegistry,
  featureValueCount,
  inDurableObject,
  inKv,
  inRedis,
  latestInPostgres,
  message,
  plain,
  queued,
  recordingQueue,
  redisOrSkip,
  sql,
  testDeps,
  uid,
  waitFor,
} from "./support";

const MINUTE = 60_000;
const STREAM = ["tst_plays_1h", "tst_last_genre"];
const BATCH = ["tst_affinity"];

beforeAll(applyTestRegistry);

async function consume(deps: IngestConsumerDeps, messages: ReturnType<typeof queued>[], queueName = "feature-ingest") {
  const batch = createMessageBatch(queueName, messages);
  const ctx = createExecutionContext();
  const summary = await consumeIngestBatch(batch, deps);
  return { summary, result: await getQueueResult(batch, ctx) };
}

/** The consumer's Postgres writer, counting the rows it is asked to write per call. */
function countingPostgres(deps: IngestConsumerDeps): { writer: PostgresFeatureWriter; rows: number[] } {
  const rows: number[] = [];
  const writer = {
    write: (groups: Parameters<PostgresFeatureWriter["write"]>[0]) => {
      rows.push(groups.flat().length);
      return deps.postgres!.write(groups);
    },
  } as PostgresFeatureWriter;
  return { writer, rows };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Everything every tier holds for the entities, plus the feature_values row count. */
async function state(ids: string[]) {
  const out: Record<string, unknown> = {};
  for (const id of ids) {
    const ref = { entityType: "user", entityId: id };
    out[id] = {
      postgres: await latestInPostgres("user", id, true),
      rows: await featureValueCount("user", id),
      durableObject: await inDurableObject(ref, STREAM),
      kv: await inKv(ref),
      ...(redisOrSkip("Redis state of the bulk path") ? { redis: await inRedis(ref, [...STREAM, ...BATCH]) } : {}),
    };
  }
  return out;
}

describe("batch write path: last-write-wins and idempotency", () => {
  it("ends in the same state in every tier when one batch is replayed 3×, shuffled, older events interleaved", async () => {
    const random = mulberry32(20261202);
    const ids = Array.from({ length: 12 }, () => uid("user_bulk"));
    const base = Date.now() - 30 * MINUTE;
    // Per entity four events; the newest is not the last in any order, and two share an event time (tiebreak).
    const events: IngestMessage[] = ids.flatMap((id, e) =>
      [0, 3, 1, 3].map((dt, k) =>
        message({ id }, base + dt * MINUTE, {
          tst_plays_1h: e * 10 + k,
          tst_last_genre: ["rock", "pop", "jazz"][k % 3],
          tst_affinity: (e + k) / 100,
        }),
      ),
    );
    const deps = testDeps().consumer;
    const first = await consume(
      deps,
      shuffled(events, random).map((m) => queued(m)),
    );
    expect(first.result.explicitAcks).toHaveLength(events.length);
    expect(first.summary.inserted).toBe(events.length * 3);
    const after = await state(ids);
    // Newest per feature: the two events at base+3 min tie on event time; both tiers' tiebreak picks the same one.
    for (const id of ids) {
      const latest = plain(await latestInPostgres("user", id));
      expect(latest.tst_plays_1h!.eventTimestamp).toBe(base + 3 * MINUTE);
      expect(plain(await inKv({ entityType: "user", entityId: id })).tst_affinity!.eventTimestamp).toBe(base + 3 * MINUTE);
    }

    for (let round = 0; round < 3; round++) {
      const { summary, result } = await consume(
        deps,
        shuffled(events, random).map((m) => queued(m, 2)),
      );
      expect(result.explicitAcks).toHaveLength(events.length);
      expect(summary.inserted).toBe(0);
      expect(summary.latestChanged).toBe(0);
      expect(await state(ids)).toEqual(after);
    }
  });

  it("writes a 100-message batch with one Postgres call for all its rows", async () => {
    const ids = Array.from({ length: 100 }, () => uid("user_bulk100"));
    const t = Date.now() - MINUTE;
    const deps = testDeps().consumer;
    const { writer, rows } = countingPostgres(deps);
    const { result, summary } = await consume(
      { ...deps, postgres: writer },
      ids.map((id, i) => queued(message({ id }, t, { tst_plays_1h: i, tst_affinity: i / 100 }))),
    );
    expect(result.explicitAcks).toHaveLength(100);
    expect(rows).toEqual([200]);
    expect(summary.inserted).toBe(200);
    const [got] = await sql<{ n: number }>("select count(*)::int as n from feature_latest where entity_id = any($1)", [ids]);
    expect(got!.n).toBe(200);
  });
});

describe("batch write path: Redis failing mid-batch", () => {
  it("re-queues only the entities Redis refused, with only Redis left, and their delivery writes no Postgres row", async () => {
    const ids = Array.from({ length: 6 }, () => uid("user_midbatch"));
    const refused = new Set(ids.slice(0, 2));
    const t = Date.now() - MINUTE;
    const bodies = ids.map((id, i) => message({ id }, t, { tst_plays_1h: i + 1, tst_affinity: (i + 1) / 10 }));
    const deps = testDeps().consumer;
    // The real Redis tier, failing the first two entities of the pipeline as a Redis down mid-batch would.
    const flaky = deps.online.map((tier): OnlineStore => {
      if (tier.tier !== "redis") return tier;
      return Object.assign(Object.create(Object.getPrototypeOf(tier) as object) as OnlineStore, tier, {
        writeIfNewer: async (writes: Parameters<OnlineStore["writeIfNewer"]>[0]) => {
          const ok = await tier.writeIfNewer(writes.filter((w) => !refused.has(w.ref.entityId)));
          let j = 0;
          return writes.map((w) => (refused.has(w.ref.entityId) ? new Error("connection reset") : ok[j++]!));
        },
      });
    });
    const requeue = recordingQueue();
    const { writer, rows } = countingPostgres(deps);
    const first = await consume(
      { ...deps, online: flaky, postgres: writer, requeue: () => requeue },
      bodies.map((b) => queued(b)),
    );
    expect(first.result.explicitAcks).toHaveLength(6);
    expect(first.result.retryMessages).toEqual([]);
    expect(first.summary.requeued).toBe(2);
    expect(rows).toEqual([12]);
    expect((requeue.sent as IngestMessage[]).map((m) => [m.entity_id, m.pending_tiers]).sort()).toEqual(
      [...refused].map((id) => [id, ["redis"]]).sort(),
    );

    const again = await consume(
      { ...deps, postgres: writer },
      (requeue.sent as IngestMessage[]).map((m) => queued(m)),
    );
    expect(again.result.explicitAcks).toHaveLength(2);
    // No Postgres row asked for (the statement is not even sent: every group is empty).
    expect(rows.slice(1).reduce((a, n) => a + n, 0)).toBe(0);
    for (const [i, id] of ids.entries()) {
      const want = { tst_plays_1h: { value: i + 1, eventTimestamp: t }, tst_affinity: { value: (i + 1) / 10, eventTimestamp: t } };
      expect(plain(await latestInPostgres("user", id))).toEqual(want);
      expect(await featureValueCount("user", id)).toBe(2);
      if (redisOrSkip("Redis filled by the copies"))
        expect(plain(await inRedis({ entityType: "user", entityId: id }, Object.keys(want)))).toEqual(want);
    }
  });
});

describe("two queues, one consumer", () => {
  it("names the push queue apart from materialization's, environment suffixes included", () => {
    expect(isPushQueue("feature-push")).toBe(true);
    expect(isPushQueue("feature-push-staging")).toBe(true);
    expect(isPushQueue("feature-ingest")).toBe(false);
  });

  it("sends pushes to PUSH_QUEUE and materialization to INGEST_QUEUE, and re-queues onto the queue a batch came from", async () => {
    const push = recordingQueue();
    const bulk = recordingQueue();
    const ctx = testDeps({ PUSH_QUEUE: push as unknown as Queue, INGEST_QUEUE: bulk as unknown as Queue });
    await ctx.ingestQueue!.sendBatch([{ body: { n: 1 } }]);
    await ctx.materializer!.queue.sendBatch([{ body: { n: 2 } }]);
    expect(push.sent).toEqual([{ n: 1 }]);
    expect(bulk.sent).toEqual([{ n: 2 }]);
    expect(ctx.consumer.requeue!("feature-push-production")).toBe(push);
    expect(ctx.consumer.requeue!("feature-ingest")).toBe(bulk);
  });

  it("lands a message sent on each queue in Postgres through the Worker's own consumers", async () => {
    const viaPush = message({ id: uid("user_q_push") }, Date.now() - MINUTE, { tst_plays_1h: 1 });
    const viaBulk = message({ id: uid("user_q_bulk") }, Date.now() - MINUTE, { tst_affinity: 0.5 }, { source: "materialization" });
    await env.PUSH_QUEUE.send(viaPush, { contentType: "json" });
    await env.INGEST_QUEUE.send(viaBulk, { contentType: "json" });
    for (const m of [viaPush, viaBulk])
      await waitFor(
        `${m.entity_id} in Postgres`,
        async () => {
          const got = await latestInPostgres("user", m.entity_id);
          return Object.keys(got).length > 0 ? got : undefined;
        },
        30_000,
      );
  });
});
