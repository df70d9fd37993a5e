// The ingest Worker's GET /openapi.json against the app: every route documented, and real answers valid against their documented schemas.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createIngestApp } from "../../src/ingest/app";
import { ingestContext } from "../../src/ingest/context";
import { MAX_PUSH_BODY_BYTES } from "../../src/ingest/push";
import { chunkedJsonArray, chunkedPost } from "../chunked-body";
import { OpenApiContract, type OpenApiDocument } from "../openapi-contract";
import { applyTestRegistry, INGEST_ONLY_KEY, SERVE_ONLY_KEY, uid } from "./support";

let contract: OpenApiContract;

beforeAll(async () => {
  await applyTestRegistry();
  const res = await SELF.fetch("http://ingest/openapi.json");
  expect(res.status).toBe(200);
  contract = new OpenApiContract((await res.json()) as OpenApiDocument);
});

function call(method: string, path: string, opts: { body?: unknown; key?: string | null; chunked?: number } = {}): Promise<Response> {
  const key = opts.key === undefined ? inject("testApiKey") : opts.key;
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  if (opts.chunked !== undefined) return SELF.fetch(`http://ingest${path}`, chunkedPost(chunkedJsonArray(opts.chunked), headers));
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const body = opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  return SELF.fetch(`http://ingest${path}`, { method, headers, body });
}

const update = () => ({
  entity_type: "user",
  entity_id: uid("user_oas"),
  event_timestamp: new Date(Date.now() - 60_000).toISOString(),
  features: { tst_plays_1h: 3 },
});

describe("GET /openapi.json (ingest)", () => {
  it("documents every route of the app with its method and path, and nothing else", () => {
    const app = createIngestApp(ingestContext);
    expect(app.routes.length).toBeGreaterThan(5);
    expect(contract.compareRoutes(app.routes)).toEqual([]);
  });

  it("is OpenAPI 3.1 with required request bodies, query parameters and the error shape", () => {
    const doc = contract.doc;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.securitySchemes).toHaveProperty("bearer");
    expect(doc.components.schemas.Error).toMatchObject({ properties: { error: { required: ["code", "message"] } } });
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) if (op.requestBody) expect(op.requestBody.required, `${method} ${path}`).toBe(true);
    const params = (op: unknown) =>
      ((op as { parameters?: { name: string; in: string }[] }).parameters ?? []).map((p) => `${p.in}:${p.name}`);
    expect(params(doc.paths["/ingest/push"]!.post)).toEqual(["query:source"]);
    expect(params(doc.paths["/admin/materialize/runs"]!.get)).toEqual(["query:limit", "query:feature", "query:ids"]);
    expect(Object.keys(doc.paths["/ingest/push"]!.post!.responses)).toEqual(
      expect.arrayContaining(["202", "400", "401", "403", "405", "413", "503"]),
    );
  });

  it("answers of every route, success and error, validate against the documented response", async () => {
    const samples: [method: string, path: string, status: number, res: Promise<Response>][] = [
      ["POST", "/ingest/push", 202, call("POST", "/ingest/push", { body: [update(), update()] })],
      ["POST", "/ingest/push", 202, call("POST", "/ingest/push?source=replay", { body: update(), key: INGEST_ONLY_KEY })],
      ["POST", "/ingest/push", 400, call("POST", "/ingest/push", { body: { ...update(), entity_id: "" } })],
      ["POST", "/ingest/push", 400, call("POST", "/ingest/push", { body: { ...update(), features: { no_such: 1 } } })],
      ["POST", "/ingest/push", 400, call("POST", "/ingest/push?source=materialization", { body: update() })],
      ["POST", "/ingest/push", 401, call("POST", "/ingest/push", { body: update(), key: null })],
      ["POST", "/ingest/push", 403, call("POST", "/ingest/push", { body: update(), key: SERVE_ONLY_KEY })],
      ["GET", "/ingest/push", 405, call("GET", "/ingest/push")],
      ["POST", "/ingest/push", 413, call("POST", "/ingest/push", { chunked: MAX_PUSH_BODY_BYTES + 1 })],
      ["POST", "/admin/materialize", 200, call("POST", "/admin/materialize", { body: { features: ["tst_top_genres"] } })],
      ["POST", "/admin/materialize", 400, call("POST", "/admin/materialize", { body: { features: ["tst_plays_1h"] } })],
      ["POST", "/admin/materialize", 403, call("POST", "/admin/materialize", { body: { all: true }, key: INGEST_ONLY_KEY })],
      ["POST", "/admin/materialize", 404, call("POST", "/admin/materialize", { body: { features: ["nope_not_here"] } })],
      ["GET", "/admin/materialize/runs", 200, call("GET", "/admin/materialize/runs?feature=tst_top_genres&limit=2")],
      ["GET", "/admin/materialize/runs", 400, call("GET", "/admin/materialize/runs?ids=a,b")],
      ["DELETE", "/admin/materialize/runs", 405, call("DELETE", "/admin/materialize/runs")],
      ["GET", "/health", 200, call("GET", "/health", { key: null })],
      ["GET", "/openapi.json", 200, call("GET", "/openapi.json", { key: null })],
      ["POST", "/openapi.json", 405, call("POST", "/openapi.json", { key: null, body: {} })],
    ];
    const problems: string[] = [];
    for (const [method, path, status, pending] of samples) {
      const res = await pending;
      if (res.status !== status) {
        problems.push(`${method} ${path}: expected ${status}, got ${res.status} ${await res.text()}`);
        continue;
      }
      problems.push(...(await contract.check(method, path, res)));
      if (!res.bodyUsed) await res.arrayBuffer(); // the NDJSON stream runs to its end
    }
    expect(problems).toEqual([]);
  });
});
