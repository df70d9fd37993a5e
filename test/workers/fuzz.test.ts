// Property-based fuzzing of /features/get and /features/batch (issue 13): no 5xx, the error shape, a documented status, breakers closed after.
import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ErrorBody } from "../../src/core/errors";
import type { FeatureResponse } from "../../src/core/feature-request";
import { createServingApp } from "../../src/serving/app";
import { buildServingContext } from "../../src/serving/context";
import { FUZZ_SEED, hostileBody } from "../../tools/fuzz-bodies";
import { OpenApiContract, type OpenApiDocument } from "../openapi-contract";
import { fuzzTargets, sweepOperations } from "../openapi-fuzz";
import { API_KEY, publishRegistry, putKvRow, registry, uniqueId } from "./support";

const RUNS = 400;
/** Requests per documented operation in the sweep of the whole document (bounded: ~12 operations). */
const RUNS_PER_OPERATION = 40;

beforeAll(() => publishRegistry());

const requestFieldValues = {
  entity_id: ['"user_1"', '"user_2"', '"track_3"'],
  feature_names: ['["listening_hours_weekly"]', '["listening_hours_weekly","user_profile_features:listening_hours_weekly"]'],
  include_metadata: ["true", "false"],
};
const requestFields = Object.fromEntries(Object.entries(requestFieldValues).map(([k, v]) => [k, fc.constantFrom(...v)]));

describe("fuzzing the read API from its schemas", () => {
  it(`${RUNS} hostile bodies per route: never a 5xx, always the error shape and a documented status; then a normal read from KV`, async () => {
    const reg = registry();
    const deps = buildServingContext(env, { registry: async () => reg, registryVersion: () => reg.version });
    const app = createServingApp(() => deps);
    const doc = (await (await app.request("/openapi.json", {}, env)).json()) as OpenApiDocument;
    const contract = new OpenApiContract(doc);
    const call = (path: string, body: string) =>
      app.request(path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` }, body }, env);

    const seen = new Map<number, number>();
    for (const path of ["/features/get", "/features/batch"]) {
      const documented = Object.keys(doc.paths[path]!.post!.responses).map(Number);
      await fc.assert(
        fc.asyncProperty(hostileBody(requestFields), async (body) => {
          const res = await call(path, body);
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          expect(res.status).toBeLessThan(500);
          expect(documented).toContain(res.status);
          expect(await contract.check("POST", path, res.clone())).toEqual([]);
          const answer = (await res.json()) as unknown;
          if (res.status >= 400) expect(ErrorBody.safeParse(answer).success).toBe(true);
        }),
        { seed: FUZZ_SEED, numRuns: RUNS },
      );
    }

    // Both valid and refused bodies were generated (the mutations keep some bodies valid).
    expect(seen.get(200) ?? 0).toBeGreaterThan(0);
    expect(seen.get(400) ?? 0).toBeGreaterThan(0);
    for (const [tier, breaker] of Object.entries(deps.store.breakers)) expect(breaker?.state, tier).toBe("closed");
    const user = uniqueId("user_");
    await putKvRow("user", user, { listening_hours_weekly: [Date.now() - 60_000, 0.5] });
    const res = await call(
      "/features/get",
      JSON.stringify({ entity_id: user, feature_names: ["listening_hours_weekly"], include_metadata: true }),
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as FeatureResponse).metadata?.listening_hours_weekly).toMatchObject({ status: "PRESENT", tier: "kv" });
  }, 60_000);

  it(`every operation of /openapi.json, ${RUNS_PER_OPERATION} hostile requests each: below 500, valid against the documented response of its status`, async () => {
    const reg = registry();
    const deps = buildServingContext(env, { registry: async () => reg, registryVersion: () => reg.version });
    const app = createServingApp(() => deps);
    const doc = (await (await app.request("/openapi.json", {}, env)).json()) as OpenApiDocument;
    const contract = new OpenApiContract(doc);
    const targets = fuzzTargets(doc, {
      ...requestFieldValues,
      name: ['"skip_rate_7d"', '"user_behavior_features:skip_rate_7d"'],
      features: ['["skip_rate_7d"]', '["user_behavior_features:skip_rate_7d"]'],
      entities: ['{"user_id":["user_1","user_2"]}'],
      requests: ['[{"entity_id":"user_1","feature_names":["skip_rate_7d"]}]'],
    });
    expect(targets.length).toBeGreaterThanOrEqual(10);
    const statuses = await sweepOperations(targets, contract, API_KEY, RUNS_PER_OPERATION, (url, init) => app.request(url, init, env));
    expect([...statuses]).toEqual(expect.arrayContaining([200, 400]));
    for (const [tier, breaker] of Object.entries(deps.store.breakers)) expect(breaker?.state, tier).toBe("closed");
    const normal = await app.request(
      "/features/get",
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify({ entity_id: "user_1", feature_names: ["skip_rate_7d"] }),
      },
      env,
    );
    expect(normal.status).toBe(200);
  }, 90_000);
});
