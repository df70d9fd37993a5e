// Hot entities in workerd with the real Postgres: a Zipf(1.1) stream where one track takes a large share, its sharded
// features folded with one Durable Object call per entity and shard per batch, and the values read back (shards merged)
// equal to brute force over the events, also after the same batch is delivered again shuffled.
import { createMessageBatch, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { aggregateObjectName, shardOf } from "../../src/core/aggregation";
import { EventType } from "../../src/core/event-types";
import { durableObjectName } from "../../src/core/keys";
import { mulberry32 } from "../../src/core/random";
import { CompiledRegistry } from "../../src/core/registry";
import type { EntityState } from "../../src/durable/entity-state";
import { buildIngestContext } from "../../src/ingest/context";
import { consumeEventBatch, type EventConsumerDeps } from "../../src/ingest/event-consumer";
import { AggregateFeatureStore } from "../../src/stores/aggregate-store";
import { aggregationFeature } from "../support/aggregation-feature";
import { MIN, play } from "./event-registry";
import { flakyNamespace } from "./flaky-namespace";
import { ingestEnv, sql, uid } from "./support";

const SHARDS = 4;
const track = (name: string, aggregation: Record<string, unknown>) =>
  aggregationFeature(name, aggregation, {
    group: "hot_track",
    entity_type: "track",
    ...(aggregation.function === "last_n" ? { feature_type: "array" as const, item_type: "number" as const } : {}),
  });

const REGISTRY = new CompiledRegistry({
  version: "r-hot-entity-test",
  version_number: 1,
  applied_at: "2026-12-01T00:00:00.000Z",
  author: "tests",
  entities: [
    { name: "user", join_key: "user_id", description: "a listener", id_prefix: "user_" },
    { name: "track", join_key: "track_id", description: "a track", id_prefix: "track_" },
  ],
  features: [
    aggregationFeature("hot_user_plays_1h", { function: "count" }, { group: "hot_user" }),
    track("hot_track_plays_1h", { function: "count", shards: SHARDS }),
    track("hot_track_skip_rate_1h", {
      function: "ratio",
      numerator: { function: "sum", field: "skipped" },
      denominator: { function: "count" },
      shards: SHARDS,
    }),
    track("hot_track_sources_1h", { function: "distinct_count", field: "source", shards: SHARDS }),
    track("hot_track_last_seconds_1h", { function: "last_n", field: "seconds_played", n: 3, shards: SHARDS }),
    // Not sharded: in the track's own object, next to its sharded features.
    track("hot_track_seconds_1h", { function: "sum", field: "seconds_played" }),
  ],
  event_types: [
    EventType.parse({
      name: "listening_event",
      description: "a play",
      entity_keys: ["user_id", "track_id"],
      allowed_lateness: "1h",
      fields: { seconds_played: { type: "number" }, skipped: { type: "boolean" }, source: { type: "string" } },
    }),
  ],
});
const TRACK_FEATURES = REGISTRY.forEntity("track").map((d) => d.name);

type Play = ReturnType<typeof play>;

async function deliver(events: readonly Play[], ns: DurableObjectNamespace<EntityState>) {
  const { events: base } = buildIngestContext(ingestEnv());
  const deps: EventConsumerDeps = { ...base, entityState: ns, registry: async () => REGISTRY, log: () => undefined };
  const bodies = Array.from({ length: Math.ceil(events.length / 100) }, (_, i) => ({ events: events.slice(i * 100, (i + 1) * 100) }));
  const batch = createMessageBatch(
    "feature-events",
    bodies.map((body, i) => ({ id: `m${i}-${uid("msg")}`, timestamp: new Date(), attempts: 1, body })),
  );
  return consumeEventBatch(batch, deps);
}

/** Brute force over the events of one track (all inside the window): what every track feature must be. */
function oracle(events: readonly Play[]): Record<string, unknown> {
  const micro = events.reduce((s, e) => s + Math.round((e.fields.seconds_played as number) * 1e6), 0);
  const skipped = events.filter((e) => e.fields.skipped).length;
  const newest = [...events].sort(
    (a, b) => Date.parse(b.event_timestamp) - Date.parse(a.event_timestamp) || (a.event_id < b.event_id ? 1 : -1),
  );
  return {
    hot_track_plays_1h: events.length,
    hot_track_skip_rate_1h: skipped / events.length,
    hot_track_sources_1h: new Set(events.map((e) => e.fields.source)).size,
    hot_track_last_seconds_1h: newest.slice(0, 3).map((e) => e.fields.seconds_played),
    hot_track_seconds_1h: micro / 1e6,
  };
}

describe("hot entities", () => {
  it("a Zipf(1.1) stream: the hot track's shards each get one call per batch, and the merged values equal brute force", async () => {
    const random = mulberry32(14);
    const tracks = Array.from({ length: 30 }, () => uid("track_hot"));
    const users = Array.from({ length: 40 }, () => uid("user_hot"));
    // Zipf(1.1) over 30 tracks by inverse CDF: rank 1 takes about 28% of the plays.
    const weights = tracks.map((_, r) => 1 / (r + 1) ** 1.1);
    const total = weights.reduce((a, b) => a + b, 0);
    const pickTrack = () => {
      let u = random() * total;
      for (let r = 0; r < weights.length; r++) {
        u -= weights[r] as number;
        if (u <= 0) return tracks[r] as string;
      }
      return tracks.at(-1) as string;
    };
    const now = Date.now();
    const events = Array.from({ length: 600 }, (_, i) =>
      play(users[i % users.length] as string, pickTrack(), now - Math.floor(random() * 50 * MIN), {
        skipped: random() < 0.3,
        seconds_played: Math.round(random() * 300_000) / 1000,
        source: ["home", "search", "discover", "radio"][Math.floor(random() * 4)],
      }),
    );
    const hot = tracks[0] as string;
    const hotEvents = events.filter((e) => e.entities.track_id === hot);
    expect(hotEvents.length / events.length).toBeGreaterThan(0.2);

    const { ns, calls } = flakyNamespace();
    const summary = await deliver(events, ns);
    expect(summary).toMatchObject({ events: 600, stored: 600, failedEntities: 0, retried: 0 });

    // One call per object of the batch: each user, each track's own object, and each shard of each track that got events.
    expect(new Set(calls.values())).toEqual(new Set([1]));
    const hotObject = durableObjectName("track", hot);
    const shardNames = Array.from({ length: SHARDS }, (_, k) => aggregateObjectName(hotObject, SHARDS, k));
    for (const name of [hotObject, ...shardNames]) expect(calls.get(name)).toBe(1);
    const shardTouched = new Set(events.flatMap((e) => [`${e.entities.track_id}/${shardOf(e.event_id, SHARDS)}`]));
    expect(calls.size).toBe(users.length + new Set(events.map((e) => e.entities.track_id)).size + shardTouched.size);
    expect(summary.entities).toBe(calls.size);
    // The hot track's events are spread over its shards.
    for (let k = 0; k < SHARDS; k++) expect(hotEvents.filter((e) => shardOf(e.event_id, SHARDS) === k).length).toBeGreaterThan(10);

    const store = new AggregateFeatureStore(env.ENTITY_STATE, async () => REGISTRY);
    const read = async () => {
      const refs = tracks.map((id) => ({ entityType: "track", entityId: id }));
      const got = await store.read(
        refs,
        refs.map(() => TRACK_FEATURES),
      );
      return got.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.value])));
    };
    const want = tracks.map((id) => {
      const mine = events.filter((e) => e.entities.track_id === id);
      return mine.length === 0 ? {} : oracle(mine);
    });
    expect(await read()).toEqual(want);

    // At least once in, exactly once out: the whole batch again, shuffled, changes no value.
    const again = [...events].sort(() => random() - 0.5);
    const second = await deliver(again, flakyNamespace().ns);
    expect(second).toMatchObject({ stored: 0, failedEntities: 0 });
    expect(await read()).toEqual(want);
    const [row] = await sql<{ n: string }>("select count(*)::text as n from raw_events where event_id = any($1::text[])", [
      events.map((e) => e.event_id),
    ]);
    expect(Number(row?.n)).toBe(600);
  });
});
