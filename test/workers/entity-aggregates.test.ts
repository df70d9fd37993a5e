// EntityState's aggregation tiles inside workerd: exactly-once folding of replayed batches, late, too-late and
// future events, and the alarm that prunes expired tiles and event ids.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type AggregationEvent, type AggregationPlan, aggregationPlan } from "../../src/core/aggregation";
import { FeatureDefinition } from "../../src/core/definitions";
import { EventType } from "../../src/core/event-types";
import type { TimedValue } from "../../src/core/keys";
import { mulberry32 } from "../../src/core/random";
import { MAX_FUTURE_MS } from "../../src/durable/aggregate-tiles";
import type { EntityState } from "../../src/durable/entity-state";
import { entityStub, uniqueId } from "./support";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const LISTENING = EventType.parse({
  name: "listening_event",
  description: "a play",
  entity_keys: ["user_id"],
  allowed_lateness: "1h",
  fields: { seconds_played: { type: "number" }, skipped: { type: "boolean" }, source: { type: "string" } },
});

function plan(name: string, aggregation: Record<string, unknown>): AggregationPlan {
  return aggregationPlan(
    FeatureDefinition.parse({
      name,
      group: "g",
      entity_type: "user",
      feature_type: "numerical",
      computation_type: "aggregation",
      update_frequency: "realtime",
      retention_days: 30,
      ttl_seconds: 30 * 86_400,
      description: "d",
      owner: "o",
      aggregation: { source_event: "listening_event", ...aggregation },
    }),
    LISTENING,
  );
}

const PLANS = [
  plan("plays_1h", { function: "count", window: "1h", tile: "1m" }),
  plan("skips_1h", { function: "sum", field: "skipped", window: "1h", tile: "1m" }),
  plan("seconds_7d", { function: "sum", field: "seconds_played", window: "7d", tile: "1h" }),
  plan("skip_rate_7d", {
    function: "ratio",
    numerator: { function: "sum", field: "skipped" },
    denominator: { function: "count" },
    window: "7d",
    tile: "1h",
  }),
  plan("plays_lifetime", { function: "count", window: "lifetime" }),
];

let seq = 0;
function play(ts: number, fields: Record<string, unknown> = {}): AggregationEvent {
  seq++;
  return {
    event_type: "listening_event",
    event_id: `ev-${seq}-${Math.floor(Math.random() * 1e9)}`,
    event_timestamp: ts,
    fields: { seconds_played: 30.1, skipped: false, source: "home", ...fields },
  };
}

const values = (r: Record<string, { value: unknown }>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.value]));

describe("EntityState aggregation tiles", () => {
  it("the same batch three times, shuffled, changes nothing after the first", async () => {
    const now = Date.now();
    const rand = mulberry32(7);
    const batch = Array.from({ length: 200 }, () =>
      play(now - Math.floor(rand() * 50 * MIN), { skipped: rand() < 0.4, seconds_played: rand() * 200 }),
    );
    const shuffled = () =>
      batch
        .map((e) => ({ e, k: rand() }))
        .sort((a, b) => a.k - b.k)
        .map((x) => x.e);
    const stub = entityStub("user", uniqueId("user_agg_replay_"));
    expect(await stub.foldEvents(batch, PLANS, now)).toEqual({ applied: 200, held: 0, duplicate: 0, ignored: 0, refused: {} });
    const first = await stub.getAggregates(PLANS, now);
    expect(values(first)).toMatchObject({ plays_1h: 200, plays_lifetime: 200 });
    for (let i = 0; i < 2; i++) {
      expect(await stub.foldEvents(shuffled(), PLANS, now)).toEqual({ applied: 0, held: 0, duplicate: 200, ignored: 0, refused: {} });
      expect(await stub.getAggregates(PLANS, now)).toEqual(first);
    }
    // Another object fed the same events in another order holds the same aggregates, to the last bit of the sums.
    const other = entityStub("user", uniqueId("user_agg_order_"));
    await other.foldEvents(shuffled(), PLANS, now);
    expect(await other.getAggregates(PLANS, now)).toEqual(first);
  });

  it("a late event within the lateness updates its tile; a too-late one is refused and counted; far-future ones too", async () => {
    const now = Date.now();
    const stub = entityStub("user", uniqueId("user_agg_late_"));
    await stub.foldEvents([play(now - 5 * MIN, { skipped: true })], PLANS, now);
    const late = await stub.foldEvents([play(now - 59 * MIN, { skipped: true })], PLANS, now);
    expect(late.applied).toBe(1);
    expect(values(await stub.getAggregates(PLANS, now))).toMatchObject({ plays_1h: 2, skips_1h: 2, plays_lifetime: 2 });

    const refused = await stub.foldEvents([play(now - HOUR - 1), play(now - 3 * HOUR), play(now + MAX_FUTURE_MS + 1)], PLANS, now);
    expect(refused).toEqual({ applied: 0, held: 0, duplicate: 0, ignored: 0, refused: { too_late: 2, future: 1 } });
    expect(values(await stub.getAggregates(PLANS, now))).toMatchObject({ plays_1h: 2, plays_lifetime: 2 });
    expect(await stub.aggregateRefusals()).toEqual({ too_late: 2, future: 1 });
    // Events of a type no plan reads change nothing and are not remembered.
    expect((await stub.foldEvents([{ ...play(now), event_type: "user_action" }], PLANS, now)).ignored).toBe(1);
  });

  it("a slightly future-stamped event is held until the clock reaches it, then counted once", async () => {
    const now = Date.now() - 10 * MIN;
    const stub = entityStub("user", uniqueId("user_agg_future_"));
    const early = play(now + 30_000);
    expect((await stub.foldEvents([early], PLANS, now)).held).toBe(1);
    expect(await stub.getAggregates(PLANS, now)).toEqual({});
    expect((await stub.foldEvents([early], PLANS, now + 1)).duplicate).toBe(1);
    const later = (await stub.getAggregates(PLANS, now + 30_000)) as Record<string, TimedValue>;
    expect(values(later)).toMatchObject({ plays_1h: 1, plays_lifetime: 1 });
    expect(later.plays_1h?.eventTimestamp).toBe(now + 30_000);
    expect(values(await stub.getAggregates(PLANS, now + 31_000))).toMatchObject({ plays_1h: 1, plays_lifetime: 1 });
  });

  it("the alarm prunes tiles older than window + lateness and expired event ids, keeping lifetime and recent tiles", async () => {
    const real = Date.now();
    const past = real - 10 * DAY;
    const stub = entityStub("user", uniqueId("user_agg_prune_"));
    const old = play(past - 10 * MIN);
    await stub.foldEvents([old, play(past - 5 * MIN)], PLANS, past);
    await stub.foldEvents([play(real - 2 * MIN)], PLANS, real);
    const count = () =>
      runInDurableObject(stub, (_i: EntityState, state) => {
        const n = (q: string) => (state.storage.sql.exec<{ n: number }>(q).toArray()[0]?.n ?? 0) as number;
        return { tiles: n("SELECT COUNT(*) AS n FROM agg_tiles"), ids: n("SELECT COUNT(DISTINCT event_id) AS n FROM agg_seen_spec") };
      });
    // 4 windowed plans × 2 tile sets (past, recent: the two past events share their 1h tiles, and their 1m tiles differ)
    const before = await count();
    expect(before.ids).toBe(3);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await count();
    // Left: each windowed plan's recent tile and the one lifetime tile.
    expect(after).toEqual({ tiles: 4 + 1, ids: 1 });
    expect(before.tiles).toBeGreaterThan(after.tiles);
    expect(values(await stub.getAggregates(PLANS, real))).toEqual({
      plays_1h: 1,
      skips_1h: 0,
      seconds_7d: 30.1,
      skip_rate_7d: 0,
      plays_lifetime: 3,
    });
    // A replay of the pruned id is too late, so forgetting it cannot double-count it.
    expect((await stub.foldEvents([old], PLANS, real)).refused).toEqual({ too_late: 1 });
    // Still holding tiles: the alarm re-armed itself.
    expect(await runInDurableObject(stub, (_i: EntityState, state) => state.storage.getAlarm())).not.toBeNull();
  });
});
