// POST /admin/backfill in workerd with the real Postgres and Durable Objects: stored events replayed into the tiles equal
// what live folding gives (late-refused ones left out), twice or resumed page by page changes nothing, and events folded
// live before the backfill are not counted twice.
import { describe, expect, inject, it } from "vitest";
import { type ArrivedEvent, aggregateAsOf, planOf } from "../../src/core/aggregation";
import { createIngestApp } from "../../src/ingest/app";
import { buildIngestContext } from "../../src/ingest/context";
import { aggregates, MIN, play, REGISTRY } from "./event-registry";
import { ingestEnv, sql, uid } from "./support";

const app = createIngestApp(() => buildIngestContext(ingestEnv(), { registry: async () => REGISTRY, log: () => undefined }));

async function call(path: string, body: unknown): Promise<Response> {
  return app.request(
    path,
    {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${inject("testApiKey")}` },
      body: JSON.stringify(body),
    },
    ingestEnv(),
  );
}

type Stored = ReturnType<typeof play> & { arrived: number };

/** Appends events to raw_events as if they had arrived at `arrived` (the backfill's only source). */
async function store(events: readonly Stored[]): Promise<void> {
  await sql(
    `insert into raw_events (event_id, event_type, event_timestamp, entities, fields, received_at)
     select id, 'listening_event', ts::timestamptz, entities::jsonb, fields::jsonb, to_timestamp(arrived / 1000.0)
       from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::double precision[]) as e(id, ts, entities, fields, arrived)`,
    [
      events.map((e) => e.event_id),
      events.map((e) => e.event_timestamp),
      events.map((e) => JSON.stringify(e.entities)),
      events.map((e) => JSON.stringify(e.fields)),
      events.map((e) => e.arrived),
    ],
  );
}

/** What the user's aggregates should be now, from the stored events with the serving semantics. */
function expected(events: readonly Stored[], user: string, now: number): Record<string, unknown> {
  const mine: ArrivedEvent[] = events
    .filter((e) => e.entities.user_id === user)
    .map((e) => ({
      event_type: e.event_type,
      event_id: e.event_id,
      event_timestamp: Date.parse(e.event_timestamp),
      fields: e.fields,
      arrived_at: e.arrived,
    }));
  const out: Record<string, unknown> = {};
  for (const name of ["evt_plays_1h", "evt_skips_1h"]) {
    const v = aggregateAsOf(planOf(REGISTRY, name)!, mine, now);
    if (v) out[name] = v.value;
  }
  return out;
}

/** Backfills both features, paging through the entities after `prefix` until one outside it, `limit` at a time. */
async function backfillAll(prefix: string, limit: number): Promise<{ pages: number; entities: number }> {
  const plays = await backfillFeature("evt_plays_1h", prefix, limit);
  const skips = await backfillFeature("evt_skips_1h", prefix, limit);
  expect(skips.entities).toBe(plays.entities);
  return plays;
}

async function backfillFeature(feature: string, prefix: string, limit: number): Promise<{ pages: number; entities: number }> {
  let after: string | null = prefix;
  let pages = 0;
  let entities = 0;
  while (after?.startsWith(prefix)) {
    const res = await call("/admin/backfill", { feature, after, limit });
    expect(res.status, await res.clone().text()).toBe(200);
    const page = (await res.json()) as { entities: number; next_after: string | null; total_entities: number };
    pages++;
    // The page after the last of ours may hold the next entity of another test: only ours are counted.
    if (page.next_after?.startsWith(prefix)) entities += page.entities;
    expect(page.total_entities).toBeGreaterThanOrEqual(entities);
    after = page.next_after;
  }
  return { pages, entities };
}

describe("POST /admin/backfill", () => {
  it("rebuilds the tiles from raw_events like live folding, idempotent and resumable page by page", async () => {
    const prefix = uid("user_bf");
    const users = [`${prefix}_a`, `${prefix}_b`, `${prefix}_c`];
    const now = Date.now();
    const events: Stored[] = [];
    for (let i = 0; i < 90; i++) {
      const user = users[i % 3] as string;
      const ts = now - ((i * 97) % 115) * MIN - (i % 7) * 1000;
      // Every tenth arrived more than the hour's lateness after its time: refused live, so never counted.
      const arrived = ts + (i % 10 === 0 ? 70 * MIN : (i % 4) * 1000);
      events.push({ ...play(user, uid("track_bf"), ts, { skipped: i % 3 === 0 }), arrived });
    }
    await store(events);
    // A plain (no backfill) count of the window: the test is not trivial.
    expect(Object.values(expected(events, users[0] as string, now))[0]).toBeGreaterThan(5);

    const first = await backfillAll(prefix, 1);
    expect(first.entities).toBe(3);
    expect(first.pages).toBe(4);
    const want = Object.fromEntries(users.map((u) => [u, expected(events, u, Date.now())]));
    for (const u of users) expect(await aggregates("user", u)).toEqual(want[u]);
    // Again, three at a time: nothing changes.
    expect((await backfillAll(prefix, 3)).entities).toBe(3);
    for (const u of users) expect(await aggregates("user", u)).toEqual(want[u]);
  });

  it("does not count twice the events folded live before the backfill", async () => {
    const prefix = uid("user_bfl");
    const user = `${prefix}_a`;
    const now = Date.now();
    const recent = [play(user, uid("track_bfl"), now - 5 * MIN), play(user, uid("track_bfl"), now - 2 * MIN, { skipped: true })];
    const live = await call("/ingest/events", recent);
    expect(live.status, await live.clone().text()).toBe(202);
    const older = { ...play(user, uid("track_bfl"), now - 90 * MIN), arrived: now - 90 * MIN + 500 };
    await store([older]);
    await backfillAll(prefix, 10);
    // The 90-minute-old event is outside the 1 h window: the live two, once each.
    expect(await aggregates("user", user)).toEqual({ evt_plays_1h: 2, evt_skips_1h: 1 });
  });

  it("answers 404 for an unknown feature and 400 for bad input", async () => {
    expect((await call("/admin/backfill", { feature: "nope_not_here" })).status).toBe(404);
    expect((await call("/admin/backfill", { feature: "evt_plays_1h", limit: 0 })).status).toBe(400);
    expect((await call("/admin/backfill", { feature: "evt_plays_1h", since: "yesterday" })).status).toBe(400);
  });
});
