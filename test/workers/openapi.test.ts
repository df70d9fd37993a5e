// The serving Worker's GET /openapi.json against the app: every route documented, and real answers valid against their documented schemas.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../src/core/feature-request";
import { createServingApp } from "../../src/serving/app";
import { servingContext } from "../../src/serving/context";
import { MAX_RECOMMEND_BODY_BYTES } from "../../src/serving/recommend-routes";
import { MAX_TRAINING_BODY_BYTES } from "../../src/serving/training-routes";
import { chunkedJsonArray, chunkedPost } from "../chunked-body";
import { OpenApiContract, type OpenApiDocument } from "../openapi-contract";
import { API_KEY, get, INGEST_ONLY_KEY, publishRegistry, putLatest, SERVE_ONLY_KEY, uniqueId } from "./support";

let contract: OpenApiContract;

beforeAll(async () => {
  await publishRegistry();
  const res = await get("/openapi.json", null);
  expect(res.status).toBe(200);
  contract = new OpenApiContract((await res.json()) as OpenApiDocument);
});

function call(method: string, path: string, opts: { body?: unknown; key?: string | null; chunked?: number } = {}): Promise<Response> {
  const key = opts.key === undefined ? API_KEY : opts.key;
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  if (opts.chunked !== undefined) return SELF.fetch(`http://fs${path}`, chunkedPost(chunkedJsonArray(opts.chunked), headers));
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const body = opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  return SELF.fetch(`http://fs${path}`, { method, headers, body });
}

describe("GET /openapi.json (serving)", () => {
  it("documents every route of the app with its method and path, and nothing else", () => {
    const app = createServingApp(servingContext);
    expect(app.routes.length).toBeGreaterThan(10);
    expect(contract.compareRoutes(app.routes)).toEqual([]);
  });

  it("is OpenAPI 3.1 with required request bodies, the bearer scheme and the error shape", () => {
    const doc = contract.doc;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.securitySchemes).toHaveProperty("bearer");
    expect(doc.components.schemas.Error).toMatchObject({ properties: { error: { required: ["code", "message"] } } });
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        if (op.requestBody) expect(op.requestBody.required, `${method} ${path}`).toBe(true);
        expect(op.security, `${method} ${path}`).toBeDefined();
      }
    // The batch body's two forms and its per-item errors; the registry's filters and path parameter.
    expect(JSON.stringify(doc.components.schemas.BatchRequest)).toContain('"requests"');
    expect(JSON.stringify(doc.paths["/features/batch"]!.post!.responses["200"])).toContain("FeatureErrorResult");
    const params = (op: unknown) =>
      ((op as { parameters?: { name: string; in: string }[] }).parameters ?? []).map((p) => `${p.in}:${p.name}`);
    expect(params(doc.paths["/registry/features"]!.get)).toEqual(
      expect.arrayContaining(["query:q", "query:tag", "query:owner", "query:entity_type", "query:group"]),
    );
    expect(params(doc.paths["/registry/features/{name}"]!.get)).toEqual(["path:name"]);
    expect(Object.keys(doc.paths["/features/get"]!.post!.responses)).toEqual(
      expect.arrayContaining(["200", "400", "401", "403", "404", "405", "413", "422", "503"]),
    );
  });

  it("answers of every route, success and error, validate against the documented response", async () => {
    const user = uniqueId("user_");
    await putLatest("user", user, "listening_hours_weekly", 0.4, Date.now() - 60_000);
    const one = { entity_id: user, feature_names: ["listening_hours_weekly"], include_metadata: true };
    const samples: [method: string, path: string, status: number, res: Promise<Response>][] = [
      ["POST", "/features/get", 200, call("POST", "/features/get", { body: one })],
      ["POST", "/features/get", 400, call("POST", "/features/get", { body: { entity_id: 5 } })],
      ["POST", "/features/get", 400, call("POST", "/features/get", { body: "{not json" })],
      ["POST", "/features/get", 401, call("POST", "/features/get", { body: one, key: null })],
      ["POST", "/features/get", 403, call("POST", "/features/get", { body: one, key: INGEST_ONLY_KEY })],
      ["POST", "/features/get", 404, call("POST", "/features/get", { body: { entity_id: user, feature_names: ["nope"] } })],
      ["GET", "/features/get", 405, call("GET", "/features/get")],
      ["POST", "/features/get", 413, call("POST", "/features/get", { chunked: MAX_BODY_BYTES + 1 })],
      ["POST", "/features/get", 422, call("POST", "/features/get", { body: { entity_id: user, feature_names: ["country"] } })],
      ["POST", "/features/batch", 200, call("POST", "/features/batch", { body: [one, { entity_id: user, feature_names: ["country"] }] })],
      ["POST", "/features/batch", 200, call("POST", "/features/batch", { body: { requests: [one] } })],
      ["POST", "/features/batch", 400, call("POST", "/features/batch", { body: { requests: "all" } })],
      ["POST", "/features/batch", 413, call("POST", "/features/batch", { body: Array.from({ length: 1001 }, () => one) })],
      [
        "POST",
        "/get-online-features",
        200,
        call("POST", "/get-online-features", {
          body: { features: ["user_profile_features:listening_hours_weekly"], entities: { user_id: [user] } },
        }),
      ],
      [
        "POST",
        "/get-online-features",
        400,
        call("POST", "/get-online-features", { body: { features: ["listening_hours_weekly"], entities: { x: [1] } } }),
      ],
      ["GET", "/registry/features", 200, call("GET", "/registry/features?q=skip&group=user_behavior_features")],
      ["GET", "/registry/features", 400, call("GET", "/registry/features?entity_type=planet")],
      ["GET", "/registry/features", 401, call("GET", "/registry/features", { key: "wrong-key" })],
      ["GET", "/registry/features/{name}", 200, call("GET", "/registry/features/user_profile_features:listening_hours_weekly")],
      ["GET", "/registry/features/{name}", 404, call("GET", "/registry/features/nope")],
      ["GET", "/registry/features/{name}/related", 200, call("GET", "/registry/features/skip_rate_7d/related?limit=3")],
      ["GET", "/registry/features/{name}/related", 404, call("GET", "/registry/features/nope/related")],
      ["GET", "/registry/features/{name}/related", 400, call("GET", "/registry/features/skip_rate_7d/related?limit=-1")],
      [
        "POST",
        "/recommendations/features",
        200,
        call("POST", "/recommendations/features", {
          body: {
            candidates: ["user_profile_features:listening_hours_weekly"],
            spine: [
              { user_id: user, event_timestamp: new Date().toISOString(), label: 1 },
              { user_id: "user_openapi_none", event_timestamp: new Date().toISOString(), label: 0 },
            ],
          },
        }),
      ],
      ["POST", "/recommendations/features", 400, call("POST", "/recommendations/features", { body: { spine: [] } })],
      ["POST", "/recommendations/features", 403, call("POST", "/recommendations/features", { body: { spine: [] }, key: SERVE_ONLY_KEY })],
      ["POST", "/recommendations/features", 413, call("POST", "/recommendations/features", { chunked: MAX_RECOMMEND_BODY_BYTES + 1 })],
      ["GET", "/registry/entities", 200, call("GET", "/registry/entities", { key: SERVE_ONLY_KEY })],
      ["GET", "/registry/versions", 200, call("GET", "/registry/versions?limit=5")],
      ["GET", "/registry/versions", 400, call("GET", "/registry/versions?limit=0")],
      ["POST", "/registry/versions", 405, call("POST", "/registry/versions", { body: {} })],
      [
        "POST",
        "/datasets/training",
        200,
        call("POST", "/datasets/training", {
          body: { features: ["listening_hours_weekly"], spine: [{ user_id: user, event_timestamp: new Date().toISOString() }] },
        }),
      ],
      ["POST", "/datasets/training", 400, call("POST", "/datasets/training", { body: { features: [] } })],
      ["POST", "/datasets/training", 403, call("POST", "/datasets/training", { body: { features: ["x"] }, key: SERVE_ONLY_KEY })],
      [
        "POST",
        "/datasets/training",
        404,
        call("POST", "/datasets/training", {
          body: { features: ["nope"], spine: [{ user_id: user, event_timestamp: 1_700_000_000_000 }] },
        }),
      ],
      ["POST", "/datasets/training", 413, call("POST", "/datasets/training", { chunked: MAX_TRAINING_BODY_BYTES + 1 })],
      ["GET", "/health", 200, call("GET", "/health", { key: null })],
      ["DELETE", "/health", 405, call("DELETE", "/health", { key: null })],
      ["GET", "/metrics", 200, call("GET", "/metrics", { key: null })],
      ["GET", "/openapi.json", 200, call("GET", "/openapi.json", { key: null })],
    ];
    const problems: string[] = [];
    for (const [method, path, status, pending] of samples) {
      const res = await pending;
      if (res.status !== status) {
        problems.push(`${method} ${path}: expected ${status}, got ${res.status} ${await res.text()}`);
        continue;
      }
      problems.push(...(await contract.check(method, path, res)));
      if (!res.bodyUsed) await res.arrayBuffer(); // a streamed CSV runs to its end
    }
    expect(problems).toEqual([]);
  });
});
