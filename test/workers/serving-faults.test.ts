// Tiers that really go down (gateway and relay stopped), single-flight, and every error answer of the API.
import { env, SELF } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { type FeatureResponse, MAX_BODY_BYTES } from "../../src/core/feature-request";
import { createServingApp } from "../../src/serving/app";
import { buildServingContext } from "../../src/serving/context";
import { MAX_TRAINING_BODY_BYTES } from "../../src/serving/training-routes";
import { KvFeatureStore } from "../../src/stores/kv-store";
import { MemoryCache } from "../../src/stores/memory-cache";
import { PostgresFeatureStore } from "../../src/stores/postgres-store";
import { RedisFeatureStore } from "../../src/stores/redis-store";
import { TieredFeatureStore } from "../../src/stores/tiered-feature-store";
import { readOrder, type TierStores, type Tiers } from "../../src/stores/tiers";
import type { KvWriteBack } from "../../src/stores/write-back-policy";
import { chunkedJsonArray, chunkedPost } from "../chunked-body";
import {
  API_KEY,
  eventually,
  get,
  INGEST_ONLY_KEY,
  post,
  publishRegistry,
  putLatest,
  redisAvailable,
  redisStore,
  registry,
  uniqueId,
} from "./support";

const HOUR = 3_600_000;
const control = (what: string) => fetch(`${inject("faultControlUrl")}/${what}`, { method: "POST" });

function faultyBackends(): TierStores {
  return {
    kv: new KvFeatureStore(env.FEATURES_KV),
    redis: redisAvailable()
      ? new RedisFeatureStore({ url: inject("faultRedisRestUrl"), token: inject("faultRedisToken"), keyPrefix: env.REDIS_KEY_PREFIX ?? "" })
      : undefined,
    postgres: new PostgresFeatureStore({ databaseUrl: env.DATABASE_URL!, wsProxy: inject("faultRelay") }),
  };
}

/** An app over the given backends, so a test can break exactly the tiers it means to. */
function appOver(backends: TierStores, kvWriteBack?: KvWriteBack) {
  const store = new TieredFeatureStore(readOrder(backends), new MemoryCache(), { kvWriteBack });
  const reg = registry();
  const tiers: Tiers = {
    kv: undefined,
    durableObject: undefined,
    registryKv: undefined,
    queue: undefined,
    redis: backends.redis,
    postgres: backends.postgres,
  };
  const deps = buildServingContext(env, {
    tiers,
    postgresConfig: undefined,
    store,
    registry: async () => reg,
    registryVersion: () => reg.version,
  });
  const app = createServingApp(() => deps);
  const call = async (body: unknown) =>
    app.request("/features/get", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify(body),
    });
  return { store, call };
}

const waitUntil = (p: Promise<unknown>) => void p;

beforeAll(async () => {
  await publishRegistry();
});

afterEach(async () => {
  await control("redis/up");
  await control("postgres/up");
});

describe("a tier that goes down degrades latency, not answers", () => {
  it.runIf(redisAvailable())("Redis stopped while requests flow: same values, now from Postgres", async () => {
    // A stream feature: no KV copy, so with Redis gone the answer must come from Postgres.
    const users = [uniqueId("user_"), uniqueId("user_")];
    const ts = Date.now() - 60_000;
    for (const u of users) await putLatest("user", u, "play_queue_length", 12, ts);
    const backends = faultyBackends();
    await backends.redis!.writeIfNewer([
      { ref: { entityType: "user", entityId: users[1]! }, values: { play_queue_length: { value: 12, eventTimestamp: ts } } },
    ]);

    const { store } = appOver(backends);
    const before = await store.read([{ entityType: "user", entityId: users[1]!, features: [registry().resolve("play_queue_length")!] }], {
      maxAgeMs: () => 600_000,
      waitUntil,
    });
    expect(before[0]!.get("play_queue_length")).toMatchObject({ tier: "redis", value: { value: 12 } });

    expect((await control("redis/down")).status).toBe(204);
    const fresh = appOver(faultyBackends());
    for (const u of users) {
      const res = await fresh.call({ entity_id: u, feature_names: ["play_queue_length"], include_metadata: true });
      expect(res.status).toBe(200);
      const body = (await res.json()) as FeatureResponse;
      expect(body.features.play_queue_length).toBe(12);
      expect(body.metadata?.play_queue_length).toMatchObject({ status: "PRESENT", tier: "postgres" });
    }
    expect(fresh.store.counters.errors.redis).toBeGreaterThan(0);
  });

  it("Postgres stopped: values already in KV and memory are still served", async () => {
    const track = uniqueId("track_");
    const ts = Date.now() - HOUR;
    await putLatest("track", track, "energy", 0.7, ts);
    await putLatest("track", track, "valence", 0.2, ts);
    // This read is what fills KV here: write back on the first fetch (the default waits for a second).
    const { call, store } = appOver(faultyBackends(), "on");
    const warm = (await (
      await call({ entity_id: track, feature_names: ["energy", "valence"], include_metadata: true })
    ).json()) as FeatureResponse;
    expect(warm.metadata?.energy?.tier).toBe("postgres");
    // Let the KV write-back land, then take Postgres away.
    await new Promise((r) => setTimeout(r, 200));
    expect((await control("postgres/down")).status).toBe(204);

    const fromMemory = (await (
      await call({ entity_id: track, feature_names: ["energy"], include_metadata: true })
    ).json()) as FeatureResponse;
    expect(fromMemory.metadata?.energy?.tier).toBe("memory");

    store.memory.clear();
    const fromKv = appOver(faultyBackends());
    const res = await fromKv.call({ entity_id: track, feature_names: ["energy", "valence"], include_metadata: true });
    expect(res.status).toBe(200);
    const body = (await res.json()) as FeatureResponse;
    expect(body.features).toEqual({ energy: 0.7, valence: 0.2 });
    expect(body.metadata?.energy?.tier).toBe("kv");
  });

  it("every tier down answers 503 with a JSON error", async () => {
    await control("postgres/down");
    await control("redis/down");
    const { call } = appOver({
      redis: new RedisFeatureStore({ url: inject("faultRedisRestUrl"), token: "x", keyPrefix: "" }),
      postgres: new PostgresFeatureStore({ databaseUrl: env.DATABASE_URL!, wsProxy: inject("faultRelay") }),
    });
    const res = await call({ entity_id: uniqueId("user_"), feature_names: ["listening_hours_weekly"] });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: "unavailable" } });
  });
});

describe("KV_WRITE_BACK", () => {
  it("off: a Postgres hit fills memory and Redis but writes nothing to KV; on: it writes the KV row", async () => {
    const backends = {
      kv: new KvFeatureStore(env.FEATURES_KV),
      redis: redisAvailable() ? redisStore() : undefined,
      postgres: new PostgresFeatureStore({ databaseUrl: env.DATABASE_URL!, wsProxy: env.NEON_WS_PROXY }),
    };
    const ts = Date.now() - HOUR;
    for (const writeBack of [false, true]) {
      const user = uniqueId("user_kvwb_");
      await putLatest("user", user, "listening_hours_weekly", 0.5, ts);
      expect(appOver(backends).store.kvWriteBack).toBe("repeat");
      const { call } = appOver(backends, writeBack ? "on" : "off");
      const body = (await (
        await call({ entity_id: user, feature_names: ["listening_hours_weekly"], include_metadata: true })
      ).json()) as FeatureResponse;
      expect(body.metadata?.listening_hours_weekly?.tier).toBe("postgres");
      // The write-backs of one read are issued together: once Redis has it (or after a pause without Redis), KV's would be there too.
      if (backends.redis) {
        await eventually(async () =>
          (await backends.redis!.read([{ entityType: "user", entityId: user }], [["listening_hours_weekly"]]))[0]?.listening_hours_weekly
            ? true
            : undefined,
        );
      }
      const row = async () => env.FEATURES_KV.get<Record<string, unknown>>(`row:user:${user}`, "json");
      if (writeBack) expect(await eventually(async () => (await row()) ?? undefined)).toMatchObject({ listening_hours_weekly: [ts, 0.5] });
      else {
        await new Promise((r) => setTimeout(r, 300));
        expect(await row()).toBeNull();
      }
    }
  });
});

describe("KV_WRITE_BACK=repeat (default)", () => {
  it("writes the KV row only for an entity this isolate had to fetch below KV before", async () => {
    const backends = {
      kv: new KvFeatureStore(env.FEATURES_KV),
      postgres: new PostgresFeatureStore({ databaseUrl: env.DATABASE_URL!, wsProxy: env.NEON_WS_PROXY }),
    };
    const ts = Date.now() - HOUR;
    const user = uniqueId("user_kvrep_");
    await putLatest("user", user, "listening_hours_weekly", 0.25, ts);
    const { store, call } = appOver(backends);
    const row = async () => env.FEATURES_KV.get<Record<string, unknown>>(`row:user:${user}`, "json");
    const read = async () =>
      (
        (await (
          await call({ entity_id: user, feature_names: ["listening_hours_weekly"], include_metadata: true })
        ).json()) as FeatureResponse
      ).metadata?.listening_hours_weekly?.tier;

    // First fetch below KV: served, cached in L0, but not written to KV (a one-hit wonder costs no KV write).
    expect(await read()).toBe("postgres");
    await new Promise((r) => setTimeout(r, 300));
    expect(await row()).toBeNull();
    // Within the L0 lifetime a re-read is a memory hit: still no KV write.
    expect(await read()).toBe("memory");
    // Once the isolate has to fetch it below KV again (L0 dropped it), the row is written back.
    store.memory.clear();
    expect(await read()).toBe("postgres");
    expect(await eventually(async () => (await row()) ?? undefined)).toMatchObject({ listening_hours_weekly: [ts, 0.25] });
    // Later reads find it in KV.
    store.memory.clear();
    expect(await read()).toBe("kv");
  });
});

describe("single flight", () => {
  it("N concurrent requests for one cold key cause one backend read", async () => {
    const user = uniqueId("user_");
    await putLatest("user", user, "listening_hours_weekly", 0.33, Date.now() - HOUR);
    const store = new TieredFeatureStore(
      [[new PostgresFeatureStore({ databaseUrl: env.DATABASE_URL!, wsProxy: env.NEON_WS_PROXY })]],
      new MemoryCache(),
    );
    const def = registry().resolve("listening_hours_weekly")!;
    const N = 25;
    const results = await Promise.all(
      Array.from({ length: N }, () =>
        store.read([{ entityType: "user", entityId: user, features: [def] }], { maxAgeMs: () => 12 * HOUR, waitUntil }),
      ),
    );
    expect(results.every((r) => r[0]!.get("listening_hours_weekly")?.value?.value === 0.33)).toBe(true);
    expect(store.counters.backendReads).toBe(1);
    // A later request is a memory hit: still one backend read.
    await store.read([{ entityType: "user", entityId: user, features: [def] }], { maxAgeMs: () => 12 * HOUR, waitUntil });
    expect(store.counters.backendReads).toBe(1);
  });

  it("caches NOT_FOUND briefly so a hot missing key is not re-read", async () => {
    const store = new TieredFeatureStore(
      [[new PostgresFeatureStore({ databaseUrl: env.DATABASE_URL!, wsProxy: env.NEON_WS_PROXY })]],
      new MemoryCache(),
    );
    const def = registry().resolve("listening_hours_weekly")!;
    const lookup = [{ entityType: "user", entityId: uniqueId("user_"), features: [def] }];
    await store.read(lookup, { maxAgeMs: () => HOUR, waitUntil });
    const again = await store.read(lookup, { maxAgeMs: () => HOUR, waitUntil });
    expect(again[0]!.get("listening_hours_weekly")).toMatchObject({ tier: "memory", value: undefined });
    expect(store.counters.backendReads).toBe(1);
  });
});

describe("bad requests get clear 4xx JSON, never a 500", () => {
  it("401 without a key, 401 with an unknown key, 403 with a key lacking the serve scope", async () => {
    const body = { entity_id: "user_1", feature_names: ["listening_hours_weekly"] };
    const none = await post("/features/get", body, null);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: "unauthorized" } });
    expect((await post("/features/get", body, "wrong-key")).status).toBe(401);
    const forbidden = await post("/features/get", body, INGEST_ONLY_KEY);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ error: { code: "forbidden", details: { required: "serve" } } });
  });

  it("400 for malformed JSON, an empty body and wrong types, naming the fields", async () => {
    const malformed = await post("/features/get", "{not json");
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { message: string } }).error.message).toMatch(/Malformed JSON/);
    expect((await post("/features/get", "")).status).toBe(400);
    const wrong = await post("/features/get", { entity_id: 5, feature_names: "listening_hours_weekly", extra: true });
    expect(wrong.status).toBe(400);
    const err = (await wrong.json()) as { error: { details: { issues: { path: string }[] } } };
    const paths = err.error.details.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(["entity_id", "feature_names"]));
  });

  it("404 naming every unknown feature", async () => {
    const res = await post("/features/get", { entity_id: "user_1", feature_names: ["listening_hours_weekly", "nope_a", "grp:nope_b"] });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found", details: { unknown_features: ["nope_a", "grp:nope_b"] } } });
  });

  it("413 for a batch over the limit", async () => {
    const requests = Array.from({ length: 1001 }, (_, i) => ({ entity_id: `user_${i}`, feature_names: ["listening_hours_weekly"] }));
    const res = await post("/features/batch", requests);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: "payload_too_large", details: { limit: 1000 } } });
  });

  it("413 in our JSON error shape for a chunked body over the limit (no Content-Length) on /features/get and /datasets/training", async () => {
    for (const [path, limit] of [
      ["/features/get", MAX_BODY_BYTES],
      ["/datasets/training", MAX_TRAINING_BODY_BYTES],
    ] as const) {
      const res = await SELF.fetch(
        `http://fs${path}`,
        chunkedPost(chunkedJsonArray(limit + 1), { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" }),
      );
      expect(res.status, path).toBe(413);
      expect(await res.json(), path).toMatchObject({ error: { code: "payload_too_large", details: { limit } } });
    }
  });

  it("405 with an Allow header and our JSON error for a method a known path does not serve; unknown paths stay 404", async () => {
    const getOnPost = await get("/features/get");
    expect(getOnPost.status).toBe(405);
    expect(getOnPost.headers.get("allow")).toBe("POST");
    expect(await getOnPost.json()).toMatchObject({ error: { code: "method_not_allowed", details: { allow: "POST" } } });
    const postOnGet = await post("/registry/features/listening_hours_weekly", {});
    expect(postOnGet.status).toBe(405);
    expect(postOnGet.headers.get("allow")).toBe("GET, HEAD");
    expect((await SELF.fetch("http://fs/health", { method: "HEAD" })).status).toBe(200);
    expect((await get("/features/nope")).status).toBe(404);
  });

  it("reads a JSON body sent without Content-Type, as Feast's SDK and curl -d send it", async () => {
    const body = JSON.stringify({ features: ["user_profile_features:listening_hours_weekly"], entities: { user_id: [uniqueId("user_")] } });
    for (const headers of [{}, { "content-type": "application/x-www-form-urlencoded" }] as Record<string, string>[]) {
      const res = await SELF.fetch("http://fs/get-online-features", {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, ...headers },
        body,
      });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(((await res.json()) as { metadata: { feature_names: string[] } }).metadata.feature_names).toEqual([
        "user_id",
        "listening_hours_weekly",
      ]);
    }
  });

  it("400 for an unknown entity key in the Feast API", async () => {
    const res = await post("/get-online-features", {
      features: ["user_profile_features:listening_hours_weekly"],
      entities: { customer_id: ["c1"] },
    });
    expect(res.status).toBe(400);
  });

  it("serves the OpenAPI document generated from the schemas", async () => {
    const res = await get("/openapi.json", null);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(Object.keys(doc.paths)).toContain("/features/get");
    expect(doc.components.schemas.FeatureRequest?.properties).toHaveProperty("max_staleness_ms");
  });
});

describe("discovery API and metrics", () => {
  it("searches, filters and describes features with lineage", async () => {
    const search = (await (await get("/registry/features?q=skip&entity_type=user")).json()) as { features: { name: string }[] };
    expect(search.features.map((f) => f.name)).toContain("skip_rate_7d");
    const byTag = (await (await get("/registry/features?computation_type=stream")).json()) as { features: { computation_type: string }[] };
    expect(byTag.features.length).toBeGreaterThan(0);
    expect(byTag.features.every((f) => f.computation_type === "stream")).toBe(true);
    const one = (await (await get("/registry/features/user_profile_features:listening_hours_weekly")).json()) as {
      definition: { name: string };
      lineage: { upstream: { tables: string[] } };
    };
    expect(one.definition.name).toBe("listening_hours_weekly");
    expect(one.lineage.upstream.tables).toContain("listening_events");
    const fav = (await (await get("/registry/features/favorite_genres")).json()) as { lineage: { downstream: string[] } };
    expect(fav.lineage.downstream).toContain("user_track_genre_affinity");
    expect((await get("/registry/features/nope")).status).toBe(404);
    expect((await get("/registry/features?entity_type=planet")).status).toBe(400);
    const entities = (await (await get("/registry/entities")).json()) as { entities: { name: string; feature_count: number }[] };
    expect(entities.entities.map((e) => e.name).sort()).toEqual(["artist", "session", "track", "user"]);
  });

  it("exposes Prometheus metrics", async () => {
    await post("/features/get", { entity_id: "user_1", feature_names: ["listening_hours_weekly"], include_metadata: true });
    const text = await (await get("/metrics", null)).text();
    expect(text).toContain("feature_serving_duration_seconds_bucket");
    expect(text).toMatch(/^feature_tier_hits_total\{tier="memory",worker="feature-serving",colo="[A-Za-z]+"\} \d+$/m);
  });
});
