// Hostile input against the serving Worker (issue 13): ids no tier can key, duplicate keys, Content-Type, batch error paths, scopes.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { FeatureResponse } from "../../src/core/feature-request";
import { createServingApp } from "../../src/serving/app";
import { buildServingContext } from "../../src/serving/context";
import { expectScopesRouteByRoute, type RouteScope, scopeTestApiKeys } from "../scope-check";
import { API_KEY, post, publishRegistry, putKvRow, registry, uniqueId } from "./support";

interface ErrorAnswer {
  error: { code: string; message: string; details?: { issues?: { path: string; message: string }[] } };
}

/** Ids that some tier cannot key: NUL (Postgres), a lone surrogate and a 600-byte id (KV's 512-byte key limit). */
const HOSTILE_IDS = ["user_\u0000nul", "user_\ud83d", `user_${"x".repeat(595)}`];

beforeAll(() => publishRegistry());

function send(path: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) {
  return SELF.fetch(`http://fs${path}`, { method: "POST", headers: { authorization: `Bearer ${API_KEY}`, ...headers }, body });
}

describe("entity ids a tier cannot key", () => {
  it("answer 400 naming the field and the rule, on /features/get (entity_id and entities) and /features/batch", async () => {
    for (const id of HOSTILE_IDS) {
      const single = await post("/features/get", { entity_id: id, feature_names: ["listening_hours_weekly"] });
      expect(single.status, JSON.stringify(id.slice(0, 12))).toBe(400);
      const body = (await single.json()) as ErrorAnswer;
      expect(body.error.details?.issues).toEqual([expect.objectContaining({ path: "entity_id" })]);
      expect(body.error.message).toMatch(/control characters|lone UTF-16 surrogate|at most 256 UTF-8 bytes/);
      // The answer never carries the raw hostile characters back.
      expect(JSON.stringify(body)).not.toMatch(/\\u0000|\\ud83d"|x{100}/);

      const other = await post("/features/get", {
        entity_id: "user_1",
        entities: { track: id },
        feature_names: ["listening_hours_weekly"],
      });
      expect(other.status).toBe(400);
      expect(((await other.json()) as ErrorAnswer).error.details?.issues).toEqual([expect.objectContaining({ path: "entities.track" })]);
    }
  });

  it("never open a breaker for other callers: N hostile requests, every breaker closed, the next request served from KV", async () => {
    const reg = registry();
    const deps = buildServingContext(env, { registry: async () => reg, registryVersion: () => reg.version });
    const app = createServingApp(() => deps);
    const call = (body: unknown) =>
      app.request(
        "/features/get",
        { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` }, body: JSON.stringify(body) },
        env,
      );
    for (let round = 0; round < 4; round++)
      for (const id of HOSTILE_IDS) expect((await call({ entity_id: id, feature_names: ["listening_hours_weekly"] })).status).toBe(400);
    for (const [tier, breaker] of Object.entries(deps.store.breakers)) expect(breaker?.state, tier).toBe("closed");
    expect(Object.values(deps.store.counters.errors).reduce((a, b) => a + b, 0)).toBe(0);

    const user = uniqueId("user_");
    await putKvRow("user", user, { listening_hours_weekly: [Date.now() - 60_000, 0.25] });
    const res = await call({ entity_id: user, feature_names: ["listening_hours_weekly"], include_metadata: true });
    expect(res.status).toBe(200);
    const served = (await res.json()) as FeatureResponse;
    expect(served.features.listening_hours_weekly).toBe(0.25);
    expect(served.metadata?.listening_hours_weekly).toMatchObject({ status: "PRESENT", tier: "kv" });
  });
});

describe("answers to malformed bodies", () => {
  it("a bad item inside a batch is named by its index and field, in both batch shapes", async () => {
    const good = { entity_id: "user_1", feature_names: ["listening_hours_weekly"] };
    const bare = await post("/features/batch", [good, good, { entity_id: "user_\u0000", feature_names: ["listening_hours_weekly"] }]);
    expect(bare.status).toBe(400);
    expect(((await bare.json()) as ErrorAnswer).error.details?.issues).toEqual([expect.objectContaining({ path: "2.entity_id" })]);
    const wrapped = await post("/features/batch", { requests: [good, { ...good, feature_names: "listening_hours_weekly" }] });
    expect(wrapped.status).toBe(400);
    expect(((await wrapped.json()) as ErrorAnswer).error.details?.issues).toEqual([
      expect.objectContaining({ path: "requests.1.feature_names" }),
    ]);
  });

  it("a duplicate JSON key is a 400 naming it, not the parser's last-wins choice", async () => {
    const res = await send("/features/get", '{"entity_id":"user_1","feature_names":["listening_hours_weekly"],"entity_id":"user_2"}');
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorAnswer;
    expect(body.error.code).toBe("bad_request");
    expect(body.error.details?.issues).toEqual([expect.objectContaining({ path: "entity_id" })]);
    const nested = await send(
      "/features/batch",
      '[{"entity_id":"user_1","feature_names":["a"]},{"entity_id":"user_1","feature_names":["a"],"entities":{"track":"t","tr\\u0061ck":"u"}}]',
    );
    expect(((await nested.json()) as ErrorAnswer).error.details?.issues).toEqual([expect.objectContaining({ path: "1.entities.track" })]);
    // Equal keys in different objects are fine.
    const fine = await send(
      "/features/batch",
      '[{"entity_id":"user_1","feature_names":["listening_hours_weekly"]},{"entity_id":"user_2","feature_names":["listening_hours_weekly"]}]',
    );
    expect(fine.status).toBe(200);
  });

  it("Content-Type: none, JSON, text/plain and the form type curl -d sends are read as JSON; anything else is 415, documented on every body route", async () => {
    const body = JSON.stringify({ entity_id: "user_1", feature_names: ["listening_hours_weekly"] });
    // Bytes, so that fetch adds no Content-Type at all (a string body would be declared text/plain).
    const none = await SELF.fetch("http://fs/features/get", {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}` },
      body: new TextEncoder().encode(body),
    });
    expect(none.status).toBe(200);
    expect((await send("/features/get", body, { "content-type": "text/plain;charset=UTF-8" })).status).toBe(200);
    expect((await send("/features/get", body, { "content-type": "application/json; charset=utf-8" })).status).toBe(200);
    expect((await send("/features/get", body, { "content-type": "application/x-www-form-urlencoded" })).status).toBe(200);
    for (const type of ["text/xml", "multipart/form-data; boundary=x", "application/xml"]) {
      const res = await send("/features/get", body, { "content-type": type });
      expect(res.status, type).toBe(415);
      expect(((await res.json()) as ErrorAnswer).error.code).toBe("unsupported_media_type");
    }
    expect((await send("/datasets/training", "{}", { "content-type": "text/csv" })).status).toBe(415);
    const doc = (await (await SELF.fetch("http://fs/openapi.json")).json()) as {
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
    };
    const bodyRoutes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.requestBody)
        .map(([method, op]) => ({ route: `${method} ${path}`, has415: "415" in op.responses })),
    );
    expect(bodyRoutes.length).toBeGreaterThan(3);
    expect(bodyRoutes.filter((r) => !r.has415)).toEqual([]);
  });
});

describe("echoed input", () => {
  it("an error message echoes unknown names only as short escaped snippets, at most ten of them", async () => {
    const names = Array.from({ length: 30 }, (_, i) => `nope_${i}_${"y".repeat(200)}`);
    const res = await post("/features/get", { entity_id: "user_1", feature_names: names });
    expect(res.status).toBe(404);
    const body = (await res.json()) as ErrorAnswer;
    expect(body.error.message.length).toBeLessThan(1000);
    expect(body.error.message).toContain("(and 20 more)");
    const path = await SELF.fetch(`http://fs/registry/features/${"z".repeat(3000)}%00`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(path.status).toBe(404);
    const text = await path.text();
    expect(text.length).toBeLessThan(500);
    expect((JSON.parse(text) as ErrorAnswer).error.message).toMatch(/^Unknown feature: z+…$/);
  });
});

describe("scopes, route by route", () => {
  /** What each route requires; public routes need no key. A route missing here fails the test. */
  const REQUIRED: Record<string, RouteScope> = {
    "GET /health": "public",
    "GET /metrics": "public",
    "GET /openapi.json": "public",
    "POST /features/get": "serve",
    "POST /features/batch": "serve",
    "POST /get-online-features": "serve",
    "GET /registry/features": "serve",
    "GET /registry/features/:name": "serve",
    "GET /registry/features/:name/related": "serve",
    "GET /registry/feature-services": "serve",
    "GET /registry/feature-services/:name": "serve",
    "GET /registry/entities": "serve",
    "GET /registry/versions": "serve",
    "GET /quality": "serve",
    "GET /quality/features/:name": "serve",
    "POST /datasets/training": "admin",
    "POST /recommendations/features": "admin",
    "POST /push": "ingest",
    "POST /write-to-online-store": "ingest",
    "POST /materialize": "admin",
    "POST /materialize-incremental": "admin",
  };

  it("every route of the serving Worker answers 401 without a key, 403 with a key lacking its scope, and passes auth with it", async () => {
    const reg = registry();
    const deps = buildServingContext(env, {
      apiKeys: await scopeTestApiKeys(),
      registry: async () => reg,
      registryVersion: () => reg.version,
    });
    await expectScopesRouteByRoute(
      createServingApp(() => deps),
      env,
      REQUIRED,
      (pattern) => pattern.replace(":name", "listening_hours_weekly"),
    );
  });
});
