// POST /ingest/events on the ingest app with the real Postgres and Durable Objects: validation against the event
// type, append to raw_events, fold into every entity's tiles, and a replayed request that changes nothing.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createIngestApp } from "../../src/ingest/app";
import { buildIngestContext } from "../../src/ingest/context";
import { MAX_EVENTS_PER_REQUEST } from "../../src/ingest/events";
import { OpenApiContract, type OpenApiDocument } from "../openapi-contract";
import { aggregates, MIN, play, REGISTRY } from "./event-registry";
import { ingestEnv, SERVE_ONLY_KEY, sql, uid } from "./support";

const app = createIngestApp(() => buildIngestContext(ingestEnv(), { registry: async () => REGISTRY, log: () => undefined }));
let contract: OpenApiContract;

beforeAll(async () => {
  contract = new OpenApiContract((await (await SELF.fetch("http://ingest/openapi.json")).json()) as OpenApiDocument);
});

function postEvents(body: unknown, key: string | null = inject("testApiKey")): Promise<Response> {
  return Promise.resolve(
    app.request(
      "/ingest/events",
      {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify(body),
      },
      ingestEnv(),
    ),
  );
}

describe("POST /ingest/events", () => {
  it("appends events to Postgres and folds them into the user's and the track's tiles; the same request again changes nothing", async () => {
    const user = uid("user_evt");
    const track = uid("track_evt");
    const now = Date.now();
    const events = [
      play(user, track, now - 10 * MIN, { skipped: true }),
      play(user, track, now - 5 * MIN),
      play(user, uid("track_other"), now - MIN),
    ];
    const first = await postEvents(events);
    expect(first.status, await first.clone().text()).toBe(202);
    expect(await contract.check("POST", "/ingest/events", first.clone())).toEqual([]);
    expect(await first.json()).toEqual({ accepted: 3, stored: 3, duplicates: 0, queued: 3, entities: 3, pending_entities: 0, refused: {} });
    const rows = await sql<{ event_id: string; entities: Record<string, string>; fields: Record<string, unknown> }>(
      "select event_id, entities, fields from raw_events where event_id = any($1::text[]) order by event_timestamp",
      [events.map((e) => e.event_id)],
    );
    expect(rows.map((r) => r.event_id)).toEqual(events.map((e) => e.event_id));
    expect(rows[0]?.fields).toEqual(events[0]?.fields);
    expect(await aggregates("user", user)).toEqual({ evt_plays_1h: 3, evt_skips_1h: 1 });
    expect(await aggregates("track", track)).toEqual({ evt_track_plays_1h: 2 });

    const again = await postEvents([...events].reverse());
    expect(await again.json()).toEqual({ accepted: 3, stored: 0, duplicates: 3, queued: 3, entities: 3, pending_entities: 0, refused: {} });
    expect(await aggregates("user", user)).toEqual({ evt_plays_1h: 3, evt_skips_1h: 1 });
    expect(await aggregates("track", track)).toEqual({ evt_track_plays_1h: 2 });
  });

  it("stores a too-late event offline but refuses it online, counted with its reason", async () => {
    const user = uid("user_evt_late");
    const late = play(user, uid("track_evt"), Date.now() - 3 * 60 * MIN);
    const logged: Record<string, unknown>[] = [];
    const logging = createIngestApp(() =>
      buildIngestContext(ingestEnv(), { registry: async () => REGISTRY, log: (r) => void logged.push(r) }),
    );
    const res = await logging.request(
      "/ingest/events",
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${inject("testApiKey")}` },
        body: JSON.stringify(late),
      },
      ingestEnv(),
    );
    expect(await res.json()).toEqual({
      accepted: 1,
      stored: 1,
      duplicates: 0,
      queued: 1,
      entities: 2,
      pending_entities: 0,
      refused: { too_late: 2 },
    });
    expect(logged).toContainEqual(expect.objectContaining({ event: "events_refused_online", refused: { too_late: 2 } }));
    expect(await sql("select 1 from raw_events where event_id = $1", [late.event_id])).toHaveLength(1);
    expect(await aggregates("user", user)).toEqual({});
  });

  it("refuses events that do not fit their type, naming each field, and stores none of the request", async () => {
    const user = uid("user_evt_bad");
    const good = play(user, uid("track_evt"), Date.now());
    const res = await postEvents([
      good,
      { ...play(user, "track_x", Date.now()), fields: { seconds_played: "long", skipped: false, source: "home" } },
      { ...play(user, "track_x", Date.now()), event_type: "page_view" },
      { ...play(user, "track_x", Date.now()), entities: { user_id: user } },
    ]);
    expect(res.status).toBe(400);
    expect(await contract.check("POST", "/ingest/events", res.clone())).toEqual([]);
    const body = (await res.json()) as { error: { code: string; details: { issues: { path: string }[] } } };
    expect(body.error.code).toBe("validation_failed");
    expect(body.error.details.issues.map((i) => i.path)).toEqual(["1.fields.seconds_played", "2.event_type", "3.entities.track_id"]);
    expect(await sql("select 1 from raw_events where event_id = $1", [good.event_id])).toHaveLength(0);
  });

  it("answers 413 over the event limit and 403 without the ingest scope", async () => {
    const one = play(uid("user_evt"), uid("track_evt"), Date.now());
    const tooMany = await postEvents(Array.from({ length: MAX_EVENTS_PER_REQUEST + 1 }, () => one));
    expect(tooMany.status).toBe(413);
    expect(await contract.check("POST", "/ingest/events", tooMany)).toEqual([]);
    const forbidden = await postEvents(one, SERVE_ONLY_KEY);
    expect(forbidden.status).toBe(403);
    expect(await contract.check("POST", "/ingest/events", forbidden)).toEqual([]);
  });
});
