// The read path inside workerd against real KV, Durable Objects, Redis (gateway) and Postgres (relay).
import { beforeAll, describe, expect, it } from "vitest";
import type { FeatureResponse } from "../../src/core/feature-request";
import { entityStub, eventually, get, post, publishRegistry, putKvRow, putLatest, redisAvailable, redisStore, uniqueId } from "./support";

const HOUR = 3_600_000;

beforeAll(async () => {
  await publishRegistry();
});

async function getFeatures(body: Record<string, unknown>): Promise<FeatureResponse> {
  const res = await post("/features/get", { include_metadata: true, ...body });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as FeatureResponse;
}

describe("POST /features/get — one value from each tier", () => {
  it("backfills from Postgres, then serves from memory, writing back to Redis at once and to KV on a repeat fetch", async () => {
    const user = uniqueId("user_");
    const ts = Date.now() - HOUR;
    await putLatest("user", user, "listening_hours_weekly", 0.25, ts);
    await putLatest("user", user, "subscription_type", "premium", ts);
    await putLatest("user", user, "user_age_group", "25-34", ts);

    const first = await getFeatures({
      entity_id: user,
      feature_names: ["listening_hours_weekly", "user_profile_features:subscription_type"],
    });
    expect(first.features).toEqual({ listening_hours_weekly: 0.25, "user_profile_features:subscription_type": "premium" });
    expect(first.metadata?.listening_hours_weekly).toMatchObject({
      status: "PRESENT",
      tier: "postgres",
      event_timestamp: new Date(ts).toISOString(),
    });
    expect(first.metadata?.listening_hours_weekly?.age_ms).toBeGreaterThanOrEqual(HOUR - 1000);
    expect(first.feature_store_version).toBe("r-test");
    expect(first.timestamp).toBeCloseTo(Date.now() / 1000, -1);

    const second = await getFeatures({ entity_id: user, feature_names: ["listening_hours_weekly"] });
    expect(second.metadata?.listening_hours_weekly?.tier).toBe("memory");
    expect(second.features.listening_hours_weekly).toBe(0.25);

    // Write-back happens after the response (waitUntil): the Redis hash appears at once.
    const { env } = await import("cloudflare:test");
    const kvRow = async () => (await env.FEATURES_KV.get<Record<string, [number, unknown]>>(`row:user:${user}`, "json")) ?? undefined;
    if (redisAvailable()) {
      const [fromRedis] = await eventually(async () => {
        const r = await redisStore().read([{ entityType: "user", entityId: user }], [["listening_hours_weekly"]]);
        return r[0]?.listening_hours_weekly ? r : undefined;
      });
      expect(fromRedis?.listening_hours_weekly).toEqual({ value: 0.25, eventTimestamp: ts });
    } else await new Promise((r) => setTimeout(r, 300));
    // KV (KV_WRITE_BACK=repeat, the default) waits for this isolate's second fetch of the entity below KV.
    expect(await kvRow()).toBeUndefined();
    const third = await getFeatures({ entity_id: user, feature_names: ["user_age_group"] });
    expect(third.metadata?.user_age_group?.tier).toBe("postgres");
    const row = await eventually(kvRow);
    expect(row.user_age_group).toEqual([ts, "25-34"]);
  });

  it("serves a batch feature from KV", async () => {
    const track = uniqueId("track_");
    const ts = Date.now() - HOUR;
    await putKvRow("track", track, { energy: [ts, 0.8], tempo: [ts, 121.5] });
    const res = await getFeatures({ entity_id: track, feature_names: ["energy", "tempo"] });
    expect(res.features).toEqual({ energy: 0.8, tempo: 121.5 });
    expect(res.metadata?.energy?.tier).toBe("kv");
  });

  it("serves a stream feature from the entity's Durable Object", async () => {
    const user = uniqueId("user_");
    const ts = Date.now() - 1000;
    await entityStub("user", user).putFeatures([{ name: "play_queue_length", value: 7, eventTimestamp: ts }]);
    const res = await getFeatures({ entity_id: user, feature_names: ["play_queue_length"] });
    expect(res.features.play_queue_length).toBe(7);
    expect(res.metadata?.play_queue_length).toMatchObject({ status: "PRESENT", tier: "durable_object" });
  });

  it.runIf(redisAvailable())("serves from Redis when the L1 tiers miss", async () => {
    const user = uniqueId("user_");
    const ts = Date.now() - HOUR;
    await redisStore().writeIfNewer([
      { ref: { entityType: "user", entityId: user }, values: { user_age_group: { value: "25-34", eventTimestamp: ts } } },
    ]);
    const res = await getFeatures({ entity_id: user, feature_names: ["user_age_group"] });
    expect(res.features.user_age_group).toBe("25-34");
    expect(res.metadata?.user_age_group?.tier).toBe("redis");
  });
});

describe("freshness and null policies", () => {
  it("never serves a value older than its ttl as PRESENT", async () => {
    const user = uniqueId("user_");
    const old = Date.now() - 49 * HOUR; // user_age_group has ttl 48 h and null_policy allow
    await putLatest("user", user, "user_age_group", "25-34", old);
    const res = await getFeatures({ entity_id: user, feature_names: ["user_age_group"] });
    expect(res.features.user_age_group).toBeNull();
    expect(res.metadata?.user_age_group).toMatchObject({ status: "OUTSIDE_MAX_AGE", tier: "postgres" });
  });

  it("lets a request tighten the max age with max_staleness_ms", async () => {
    const user = uniqueId("user_");
    await putLatest("user", user, "user_age_group", "35-44", Date.now() - 10 * 60_000);
    const fresh = await getFeatures({ entity_id: user, feature_names: ["user_age_group"] });
    expect(fresh.metadata?.user_age_group?.status).toBe("PRESENT");
    const strict = await getFeatures({ entity_id: user, feature_names: ["user_age_group"], max_staleness_ms: 60_000 });
    expect(strict.metadata?.user_age_group?.status).toBe("OUTSIDE_MAX_AGE");
    expect(strict.features.user_age_group).toBeNull();
  });

  it("answers DEFAULTED with the default value, and NOT_FOUND with null", async () => {
    const user = uniqueId("user_");
    const res = await getFeatures({ entity_id: user, feature_names: ["subscription_type", "user_age_group"] });
    expect(res.features).toEqual({ subscription_type: "free", user_age_group: null });
    expect(res.metadata?.subscription_type?.status).toBe("DEFAULTED");
    expect(res.metadata?.user_age_group).toMatchObject({ status: "NOT_FOUND", tier: null, event_timestamp: null });
  });

  it("counts served values by status in /metrics, with or without include_metadata", async () => {
    const served = async () => {
      const text = await (await get("/metrics")).text();
      const count = (status: string) =>
        Number(
          new RegExp(`^feature_values_served_total\\{status="${status}",worker="feature-serving",colo="[A-Za-z]+"\\} (\\d+)$`, "m").exec(
            text,
          )?.[1],
        );
      return { DEFAULTED: count("DEFAULTED"), NOT_FOUND: count("NOT_FOUND") };
    };
    const before = await served();
    const user = uniqueId("user_");
    const res = await post("/features/get", { entity_id: user, feature_names: ["subscription_type", "user_age_group"] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as FeatureResponse).metadata).toBeUndefined();
    const after = await served();
    expect(after.DEFAULTED - before.DEFAULTED).toBe(1);
    expect(after.NOT_FOUND - before.NOT_FOUND).toBe(1);
  });

  it("refuses a request whose null_policy reject feature has no value (422)", async () => {
    const user = uniqueId("user_");
    const res = await post("/features/get", { entity_id: user, feature_names: ["country"] });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: { code: "value_required", details: { features: ["country"] } } });
  });
});

describe("on-demand features", () => {
  it("computes context transforms and a user x track genre affinity from stored favorites", async () => {
    const user = uniqueId("user_");
    await putLatest("user", user, "favorite_genres", ["jazz", "pop"], Date.now() - HOUR);
    const res = await getFeatures({
      entity_id: user,
      feature_names: ["user_track_genre_affinity", "time_of_day", "day_of_week", "listening_source", "device_type"],
      context: {
        track_genre: "jazz",
        timestamp: "2026-11-27T08:15:00Z",
        timezone_offset_minutes: 0,
        source: "Discover Weekly",
        user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
      },
    });
    expect(res.features.time_of_day).toBe("morning");
    expect(res.features.day_of_week).toBe("friday");
    expect(res.features.device_type).toBe("mobile");
    expect(res.features.user_track_genre_affinity).toBeGreaterThan(0.5);
    expect(res.metadata?.time_of_day?.tier).toBe("computed");
    const other = await getFeatures({ entity_id: user, feature_names: ["user_track_genre_affinity"], context: { track_genre: "metal" } });
    expect(other.features.user_track_genre_affinity).toBe(0);
  });
});

describe("mixed entities and batches", () => {
  it("serves a user with a candidate track in one request", async () => {
    const user = uniqueId("user_");
    const track = uniqueId("track_");
    await putLatest("user", user, "listening_hours_weekly", 0.2, Date.now() - HOUR);
    await putLatest("track", track, "danceability", 0.66, Date.now() - HOUR);
    const res = await getFeatures({ entity_id: user, entities: { track }, feature_names: ["listening_hours_weekly", "danceability"] });
    expect(res.features).toEqual({ listening_hours_weekly: 0.2, danceability: 0.66 });
  });

  it("names the missing entity when a feature of another type has no id", async () => {
    const res = await post("/features/get", { entity_id: uniqueId("user_"), feature_names: ["danceability"] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("entities.track");
  });

  it("POST /features/batch returns one response per request, in order", async () => {
    const users = [uniqueId("user_"), uniqueId("user_"), uniqueId("user_")];
    await Promise.all(users.map((u, i) => putLatest("user", u, "listening_hours_weekly", i / 10, Date.now() - HOUR)));
    const res = await post(
      "/features/batch",
      users.map((u) => ({ entity_id: u, feature_names: ["listening_hours_weekly"] })),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as FeatureResponse[];
    expect(body.map((r) => [r.entity_id, r.features.listening_hours_weekly])).toEqual(users.map((u, i) => [u, i / 10]));
  });
});

describe("Feast-compatible /get-online-features", () => {
  it("answers column-oriented with statuses and event timestamps", async () => {
    const users = [uniqueId("user_"), uniqueId("user_")];
    const ts = Date.now() - HOUR;
    await putLatest("user", users[0]!, "user_age_group", "25-34", ts);
    const res = await post("/get-online-features", {
      features: ["user_profile_features:user_age_group", "user_profile_features:subscription_type"],
      entities: { user_id: users },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      metadata: { feature_names: string[] };
      results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[];
    };
    expect(body.metadata.feature_names).toEqual(["user_id", "user_age_group", "subscription_type"]);
    expect(body.results[0]!.values).toEqual(users);
    expect(body.results[1]!.values).toEqual(["25-34", null]);
    expect(body.results[1]!.statuses).toEqual(["PRESENT", "NOT_FOUND"]);
    expect(body.results[1]!.event_timestamps[0]).toBe(new Date(ts).toISOString());
    // DEFAULTED is ours, not Feast's (its SDK reads an unknown status as INVALID): a null-policy
    // default is a value, so Feast sees PRESENT with the default.
    expect(body.results[2]!.statuses).toEqual(["PRESENT", "PRESENT"]);
    expect(body.results[2]!.values).toEqual(["free", "free"]);
  });

  it("uses group__name with full_feature_names", async () => {
    const res = await post("/get-online-features", {
      features: ["user_profile_features:listening_hours_weekly"],
      entities: { user_id: [uniqueId("user_")] },
      full_feature_names: true,
    });
    expect(((await res.json()) as { metadata: { feature_names: string[] } }).metadata.feature_names).toEqual([
      "user_id",
      "user_profile_features__listening_hours_weekly",
    ]);
  });
});

describe("the Postgres backfill", () => {
  it("serves a value feature_latest got just now as PRESENT, each with its JSON type intact", async () => {
    const user = uniqueId("user_");
    const ts = Date.now();
    await putLatest("user", user, "listening_hours_weekly", 0.9, ts);
    await putLatest("user", user, "subscription_type", "premium", ts);
    await putLatest("user", user, "favorite_genres", ["jazz", "pop"], ts);
    const res = await getFeatures({ entity_id: user, feature_names: ["listening_hours_weekly", "subscription_type", "favorite_genres"] });
    expect(res.features).toStrictEqual({ listening_hours_weekly: 0.9, subscription_type: "premium", favorite_genres: ["jazz", "pop"] });
    for (const name of ["listening_hours_weekly", "subscription_type", "favorite_genres"]) {
      expect(res.metadata?.[name]).toMatchObject({ status: "PRESENT", tier: "postgres", event_timestamp: new Date(ts).toISOString() });
      expect(res.metadata?.[name]?.age_ms).toBeLessThan(60_000);
    }
  });
});
