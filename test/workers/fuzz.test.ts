// Property-based fuzzing of /features/get and /features/batch (issue 13): no 5xx, the error shape, a documented status, breakers closed after.
import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ErrorBody } from "../../src/core/errors";
import type { FeatureResponse } from "../../src/core/feature-request";
import { createServingApp } from "../../src/serving/app";
import { buildServingContext } from "../../src/serving/context";
import { FUZZ_SEED, hostileBody } from "../fuzz-bodies";
import { API_KEY, publishRegistry, putKvRow, registry, uniqueId } from "./support";

const RUNS = 400;

beforeAll(() => publishRegistry());

const requestFields = {
  entity_id: fc.constantFrom('"user_1"', '"user_2"', '"track_3"'),
  feature_names: fc.constantFrom('["listening_hours_weekly"]', '["listening_hours_weekly","user_profile_features:listening_hours_weekly"]'),
  include_metadata: fc.constantFrom("true", "false"),
};

describe("fuzzing the read API from its schemas", () => {
  it(`${RUNS} hostile bodies per route: never a 5xx, always the error shape and a documented status; then a normal read from KV`, async () => {
    const reg = registry();
    const deps = buildServingContext(env, { registry: async () => reg, registryVersion: () => reg.version });
    const app = createServingApp(() => deps);
    const doc = (await (await app.request("/openapi.json", {}, env)).json()) as {
      paths: Record<string, { post: { responses: Record<string, unknown> } }>;
    };
    const call = (path: string, body: string) =>
      app.request(path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` }, body }, env);

    const seen = new Map<number, number>();
    for (const path of ["/features/get", "/features/batch"]) {
      const documented = Object.keys(doc.paths[path]!.post.responses).map(Number);
      await fc.assert(
        fc.asyncProperty(hostileBody(requestFields), async (body) => {
          const res = await call(path, body);
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          expect(res.status).toBeLessThan(500);
          expect(documented).toContain(res.status);
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
});
