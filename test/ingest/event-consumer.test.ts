// The feature-events consumer in workerd with the real Postgres and Durable Objects: one Durable Object call per entity per
// batch, the same batch three times shuffled changes nothing, a failed entity retries only its messages, and the HTTP path
// answers 202 with the entity pending when its object is down, the consumer then folding it exactly once.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { mulberry32 } from "../../src/core/random";
import { createIngestApp } from "../../src/ingest/app";
import { buildIngestContext } from "../../src/ingest/context";
import { consumeEventBatch, type EventConsumerDeps } from "../../src/ingest/event-consumer";
import { queueRole } from "../../src/ingest/index";
import { aggregates, MIN, play, REGISTRY } from "./event-registry";
import { flakyNamespace } from "./flaky-namespace";
import { ingestEnv, recordingQueue, sql, uid } from "./support";

type Play = ReturnType<typeof play>;

const deps = (overrides: Partial<EventConsumerDeps> = {}): EventConsumerDeps => {
  const { events } = buildIngestContext(ingestEnv());
  return { ...events, registry: async () => REGISTRY, log: () => undefined, ...overrides };
};

/** Delivers message bodies as one batch; returns the consumer's summary and what Queues was told (acks, retries). */
async function deliver(bodies: unknown[], d: EventConsumerDeps = deps()) {
  const batch = createMessageBatch(
    "feature-events",
    bodies.map((body, i) => ({ id: `m${i}-${uid("msg")}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  const summary = await consumeEventBatch(batch, d);
  const result = await getQueueResult(batch, ctx);
  return { summary, result, ids: batch.messages.map((m) => m.id) };
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = mulberry32(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Messages of `size` events each. */
const messagesOf = (events: readonly Play[], size: number) =>
  Array.from({ length: Math.ceil(events.length / size) }, (_, i) => ({ events: events.slice(i * size, (i + 1) * size) }));

describe("feature-events consumer", () => {
  it("is what the Worker runs for feature-events, environment suffixes included", () => {
    expect(queueRole("feature-events")).toBe("events");
    expect(queueRole("feature-events-production")).toBe("events");
    expect(queueRole("feature-ingest")).toBe("ingest");
  });

  it("folds a batch with one Durable Object call per entity, whatever the number of messages and events", async () => {
    const users = [uid("user_ec"), uid("user_ec"), uid("user_ec")];
    const tracks = [uid("track_ec"), uid("track_ec")];
    const now = Date.now();
    const events = Array.from({ length: 120 }, (_, i) =>
      play(users[i % 3] as string, tracks[i % 2] as string, now - (i % 50) * MIN, { skipped: i % 4 === 0 }),
    );
    const { ns, calls } = flakyNamespace(new Set());
    const { summary, result } = await deliver(messagesOf(events, 7), deps({ entityState: ns }));

    expect(summary).toMatchObject({ messages: 18, events: 120, stored: 120, entities: 5, failedEntities: 0, retried: 0 });
    expect([...calls.values()]).toEqual([1, 1, 1, 1, 1]);
    expect(result.explicitAcks).toHaveLength(18);
    expect(await aggregates("user", users[0] as string)).toEqual({ evt_plays_1h: 40, evt_skips_1h: 10 });
    expect(await aggregates("track", tracks[1] as string)).toEqual({ evt_track_plays_1h: 60 });
  });

  it("exactly once: the same batch three times, shuffled and split differently, changes nothing after the first", async () => {
    const users = [uid("user_x1"), uid("user_x1")];
    const track = uid("track_x1");
    const now = Date.now();
    const events = Array.from({ length: 60 }, (_, i) =>
      play(users[i % 2] as string, track, now - (i % 55) * MIN, { skipped: i % 3 === 0 }),
    );
    // Duplicates inside the first batch too (a producer that sent twice).
    await deliver(messagesOf([...events, ...events.slice(0, 10)], 9));
    const after = {
      u0: await aggregates("user", users[0] as string),
      u1: await aggregates("user", users[1] as string),
      t: await aggregates("track", track),
    };
    expect(after).toEqual({
      u0: { evt_plays_1h: 30, evt_skips_1h: 10 },
      u1: { evt_plays_1h: 30, evt_skips_1h: 10 },
      t: { evt_track_plays_1h: 60 },
    });
    for (const seed of [1, 2]) {
      const { summary } = await deliver(messagesOf(shuffled(events, seed), 4 + seed * 5));
      expect(summary).toMatchObject({ events: 60, stored: 0, failedEntities: 0 });
      expect({
        u0: await aggregates("user", users[0] as string),
        u1: await aggregates("user", users[1] as string),
        t: await aggregates("track", track),
      }).toEqual(after);
    }
    const [row] = await sql<{ n: number }>("select count(*)::int as n from raw_events where event_id = any($1::text[])", [
      events.map((e) => e.event_id),
    ]);
    expect(row?.n).toBe(60);
  });

  it("retries only the messages that feed an entity whose object failed; their redelivery counts once", async () => {
    const ok = uid("user_ok");
    const bad = uid("user_bad");
    const track = uid("track_fl");
    const now = Date.now();
    const okEvents = [play(ok, track, now - MIN), play(ok, track, now - 2 * MIN)];
    const badEvents = [play(bad, track, now - 3 * MIN)];
    const down = new Set([`user:${bad}`]);
    const { ns } = flakyNamespace(down);
    const bodies = [{ events: okEvents }, { events: badEvents }];
    const first = await deliver(bodies, deps({ entityState: ns }));
    expect(first.summary).toMatchObject({ entities: 3, failedEntities: 1, retried: 1 });
    expect(first.result.explicitAcks).toEqual([first.ids[0]]);
    expect(first.result.retryMessages.map((m) => m.msgId)).toEqual([first.ids[1]]);
    expect(await aggregates("user", ok)).toEqual({ evt_plays_1h: 2, evt_skips_1h: 0 });
    // The track's object took all three events already; the redelivery must not count the third twice.
    expect(await aggregates("track", track)).toEqual({ evt_track_plays_1h: 3 });
    down.clear();
    const second = await deliver([bodies[1]], deps({ entityState: ns }));
    expect(second.summary).toMatchObject({ failedEntities: 0, stored: 0 });
    expect(await aggregates("user", bad)).toEqual({ evt_plays_1h: 1, evt_skips_1h: 0 });
    expect(await aggregates("track", track)).toEqual({ evt_track_plays_1h: 3 });
  });

  it("acks a message that is not a raw-events message, and leaves out the events that do not fit their type", async () => {
    const user = uid("user_inv");
    const good = play(user, uid("track_inv"), Date.now() - MIN);
    const wrongType = { ...play(user, uid("track_inv"), Date.now()), event_type: "page_view" };
    const logged: Record<string, unknown>[] = [];
    const { summary, result, ids } = await deliver(
      [{ events: [] }, { nope: true }, { events: [good, wrongType] }],
      deps({ log: (r) => void logged.push(r) }),
    );
    expect(summary).toMatchObject({ invalidMessages: 2, invalidEvents: 1, events: 1, stored: 1 });
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    expect(logged.map((r) => r.event)).toEqual(expect.arrayContaining(["event_message_invalid", "event_invalid"]));
    expect(await aggregates("user", user)).toEqual({ evt_plays_1h: 1, evt_skips_1h: 0 });
  });

  it("retries the whole batch when Postgres does not take the events, folding nothing", async () => {
    const user = uid("user_pgdown");
    const { summary, result } = await deliver(
      [{ events: [play(user, uid("track_pg"), Date.now())] }],
      deps({ postgres: { databaseUrl: "postgres://nobody@127.0.0.1:1/none" } }),
    );
    expect(summary).toMatchObject({ retried: 1, entities: 0 });
    expect(result.retryMessages).toHaveLength(1);
    expect(await aggregates("user", user)).toEqual({});
  });
});

describe("POST /ingest/events with the feature-events queue", () => {
  it("answers 202 with the entity pending when its object is down; the consumer folds the queued events once", async () => {
    const user = uid("user_pend");
    const track = uid("track_pend");
    const events = [play(user, track, Date.now() - 2 * MIN, { skipped: true }), play(user, track, Date.now() - MIN)];
    const queue = recordingQueue();
    const { ns } = flakyNamespace(new Set([`user:${user}`]));
    const app = createIngestApp(() =>
      buildIngestContext(ingestEnv(), { registry: async () => REGISTRY, log: () => undefined, entityState: ns, eventsQueue: queue }),
    );
    const res = await app.request(
      "/ingest/events",
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${inject("testApiKey")}` },
        body: JSON.stringify(events),
      },
      ingestEnv(),
    );
    expect(res.status, await res.clone().text()).toBe(202);
    expect(await res.json()).toEqual({
      accepted: 2,
      stored: 2,
      duplicates: 0,
      queued: 2,
      entities: 1,
      pending_entities: 1,
      refused: {},
    });
    expect(queue.sent).toEqual([{ events, received_at: expect.any(Number) }]);
    expect(await aggregates("user", user)).toEqual({});
    expect(await aggregates("track", track)).toEqual({ evt_track_plays_1h: 2 });
    await deliver(queue.sent);
    expect(await aggregates("user", user)).toEqual({ evt_plays_1h: 2, evt_skips_1h: 1 });
    expect(await aggregates("track", track)).toEqual({ evt_track_plays_1h: 2 });
  });

  it("queues events folded by every entity as `folded`; the consumer acks them with no Durable Object call", async () => {
    const user = uid("user_fold");
    const track = uid("track_fold");
    const events = [play(user, track, Date.now() - 2 * MIN, { skipped: true }), play(user, track, Date.now() - MIN)];
    const queue = recordingQueue();
    const app = createIngestApp(() =>
      buildIngestContext(ingestEnv(), { registry: async () => REGISTRY, log: () => undefined, eventsQueue: queue }),
    );
    const res = await app.request(
      "/ingest/events",
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${inject("testApiKey")}` },
        body: JSON.stringify(events),
      },
      ingestEnv(),
    );
    expect(res.status, await res.clone().text()).toBe(202);
    expect(await res.json()).toMatchObject({ stored: 2, queued: 2, entities: 2, pending_entities: 0 });
    expect(queue.sent).toEqual([{ events, received_at: expect.any(Number), folded: true }]);
    const { ns, calls } = flakyNamespace(new Set());
    const { summary, result } = await deliver(queue.sent, deps({ entityState: ns }));
    expect(summary).toMatchObject({ messages: 1, alreadyFolded: 2, events: 0, entities: 0 });
    expect(calls.size).toBe(0);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await aggregates("user", user)).toEqual({ evt_plays_1h: 2, evt_skips_1h: 1 });
    expect(await aggregates("track", track)).toEqual({ evt_track_plays_1h: 2 });
  });
});
