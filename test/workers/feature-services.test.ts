// Feature services (features/services.yaml): served by name in our API and in Feast's shape, listed in discovery.
import { beforeAll, describe, expect, it } from "vitest";
import { get, post, publishRegistry, putLatest, snapshot, uniqueId } from "./support";

const HOUR = 3_600_000;
const SERVICE = "skip_predictor_v1";

interface Vector {
  features: Record<string, unknown>;
  metadata?: Record<string, { status: string }>;
}

const service = () => snapshot().feature_services.find((s) => s.name === SERVICE)!;
const flat = (ref: string) => ref.slice(ref.indexOf(":") + 1);

beforeAll(async () => {
  await publishRegistry();
});

describe("feature services in /features/get and /features/batch", () => {
  it("serves a service's features in its order, keyed by flat name", async () => {
    const user = uniqueId("user_");
    await putLatest("user", user, "subscription_type", "premium", Date.now() - HOUR);
    const res = await post("/features/get", { entity_id: user, feature_service: SERVICE, include_metadata: true });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Vector;
    expect(Object.keys(body.features)).toEqual(service().features.map(flat));
    expect(body.features.subscription_type).toBe("premium");
    expect(body.metadata?.subscription_type?.status).toBe("PRESENT");
  });

  it("adds feature_names after the service's, without repeating one the service lists", async () => {
    const res = await post("/features/get", {
      entity_id: uniqueId("user_"),
      feature_service: SERVICE,
      feature_names: ["user_profile_features:subscription_type", "listening_hours_weekly"],
    });
    expect(res.status).toBe(200);
    const keys = Object.keys(((await res.json()) as Vector).features);
    expect(keys).toEqual([...service().features.map(flat), "listening_hours_weekly"]);
  });

  it("serves services in a batch", async () => {
    const users = [uniqueId("user_"), uniqueId("user_")];
    const res = await post(
      "/features/batch",
      users.map((entity_id) => ({ entity_id, feature_service: SERVICE })),
    );
    expect(res.status).toBe(200);
    const items = (await res.json()) as Vector[];
    expect(items.map((i) => Object.keys(i.features).length)).toEqual([service().features.length, service().features.length]);
  });

  it("answers 404 with the known services for an unknown one, and 400 without features or a service", async () => {
    const unknown = await post("/features/get", { entity_id: "user_1", feature_service: "no_such_service" });
    expect(unknown.status).toBe(404);
    const body = (await unknown.json()) as { error: { details: { known: string[] } } };
    expect(body.error.details.known).toEqual(snapshot().feature_services.map((s) => s.name));
    const neither = await post("/features/get", { entity_id: "user_1" });
    expect(neither.status).toBe(400);
    expect(JSON.stringify(await neither.json())).toContain("feature_names (a non-empty list) or feature_service is required");
  });
});

describe("feature services in Feast's /get-online-features", () => {
  it("serves feature_service with the features named as Feast names them", async () => {
    const user = uniqueId("user_");
    await putLatest("user", user, "subscription_type", "family", Date.now() - HOUR);
    const short = await post("/get-online-features", { entities: { user_id: [user] }, feature_service: SERVICE });
    expect(short.status).toBe(200);
    const body = (await short.json()) as { metadata: { feature_names: string[] }; results: { values: unknown[] }[] };
    const names = service().features.map(flat);
    expect(body.metadata.feature_names).toEqual(["user_id", ...names]);
    expect(body.results[1 + names.indexOf("subscription_type")]!.values).toEqual(["family"]);
    const full = await post("/get-online-features", { entities: { user_id: [user] }, feature_service: SERVICE, full_feature_names: true });
    const fullNames = ((await full.json()) as { metadata: { feature_names: string[] } }).metadata.feature_names;
    expect(fullNames).toEqual(["user_id", ...service().features.map((r) => r.replace(":", "__"))]);
  });
});

describe("discovery", () => {
  it("lists services and describes one with its definitions", async () => {
    const list = (await (await get("/registry/feature-services")).json()) as { feature_services: { name: string }[] };
    expect(list.feature_services.map((s) => s.name)).toEqual(snapshot().feature_services.map((s) => s.name));
    const one = await get(`/registry/feature-services/${SERVICE}`);
    expect(one.status).toBe(200);
    const body = (await one.json()) as { features: { name: string }[] };
    expect(body.features.map((f) => f.name)).toEqual(service().features.map(flat));
    expect((await get("/registry/feature-services/nope")).status).toBe(404);
  });

  it("names the services that read a feature in its description", async () => {
    const body = (await (await get("/registry/features/skip_rate_7d")).json()) as { feature_services: string[] };
    expect(body.feature_services).toEqual(expect.arrayContaining(["skip_predictor_v1", "next_track_ranker_v2"]));
    expect(body.feature_services).not.toContain("churn_risk_v1");
  });
});
