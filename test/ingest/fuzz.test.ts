// Property-based fuzzing of /ingest/push (issue 13): no 5xx, the error shape and a documented status; then a normal push is still accepted.
import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ErrorBody } from "../../src/core/errors";
import { createIngestApp } from "../../src/ingest/app";
import { buildIngestContext } from "../../src/ingest/context";
import { nonFinitePath } from "../../src/ingest/validate-update";
import { FUZZ_SEED, hostileBody, hostileNumberLiteral } from "../../tools/fuzz-bodies";
import { OpenApiContract, type OpenApiDocument } from "../openapi-contract";
import { fuzzTargets, sweepOperations } from "../openapi-fuzz";
import { applyTestRegistry, ingestEnv, recordingQueue, TEST_REGISTRY } from "./support";

const RUNS = 400;
/** Requests per documented operation in the sweep of the whole document. */
const RUNS_PER_OPERATION = 40;

beforeAll(applyTestRegistry);

const iso = new Date(Date.now() - 60_000).toISOString();
const updateFields = {
  entity_type: fc.constantFrom('"user"', '"session"'),
  entity_id: fc.constantFrom('"user_fuzz_1"', '"session_fuzz_1"', '"fuzz_2"'),
  event_timestamp: fc.constantFrom(`"${iso}"`, String(Date.now() - 60_000)),
  features: fc.oneof(
    hostileNumberLiteral.map((n) => `{"tst_plays_1h":${n}}`),
    fc.constantFrom('{"tst_last_genre":"jazz"}', '{"tst_embedding":[0.5,-1,1e308]}', '{"tst_session_tracks":3}'),
  ),
};

describe("fuzzing the push API from its schema", () => {
  it(`${RUNS} hostile push bodies: never a 5xx, always the error shape and a documented status`, async () => {
    // A recording queue: what is accepted is checked, not written (the consumer's path has its own tests).
    const queue = recordingQueue();
    const deps = buildIngestContext(ingestEnv(), { ingestQueue: queue, registry: async () => TEST_REGISTRY });
    const app = createIngestApp(() => deps);
    const doc = (await (await app.request("/openapi.json", {}, env)).json()) as OpenApiDocument;
    const contract = new OpenApiContract(doc);
    const documented = Object.keys(doc.paths["/ingest/push"]!.post!.responses).map(Number);
    const call = (body: string) =>
      app.request(
        "/ingest/push",
        { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${inject("testApiKey")}` }, body },
        env,
      );
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(hostileBody(updateFields), async (body) => {
        const res = await call(body);
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect(res.status).toBeLessThan(500);
        expect(documented).toContain(res.status);
        expect(await contract.check("POST", "/ingest/push", res.clone())).toEqual([]);
        const answer = (await res.json()) as unknown;
        if (res.status >= 400) expect(ErrorBody.safeParse(answer).success).toBe(true);
      }),
      { seed: FUZZ_SEED, numRuns: RUNS },
    );
    expect(seen.get(202) ?? 0).toBeGreaterThan(0);
    expect(seen.get(400) ?? 0).toBeGreaterThan(0);
    // Nothing accepted carries a number that is not finite, or an id a tier cannot key.
    for (const m of queue.sent as { entity_id: string; features: Record<string, unknown> }[]) {
      expect(nonFinitePath(m.features)).toBeUndefined();
      expect(m.entity_id).toMatch(/^[a-z_0-9]+$/);
    }
    const ok = await call(`{"entity_type":"user","entity_id":"user_fuzz_after","event_timestamp":"${iso}","features":{"tst_plays_1h":1}}`);
    expect(ok.status).toBe(202);
  }, 60_000);

  it(`every operation of /openapi.json, ${RUNS_PER_OPERATION} hostile requests each: below 500, valid against the documented response of its status`, async () => {
    const queue = recordingQueue();
    const deps = buildIngestContext(ingestEnv(), { ingestQueue: queue, registry: async () => TEST_REGISTRY });
    const app = createIngestApp(() => deps);
    const doc = (await (await app.request("/openapi.json", {}, env)).json()) as OpenApiDocument;
    const contract = new OpenApiContract(doc);
    const targets = fuzzTargets(doc, {
      entity_type: ['"user"'],
      entity_id: ['"user_fuzz_1"'],
      event_timestamp: [`"${iso}"`],
      features: ['{"tst_plays_1h":2}'],
      source: ['"push"', '"replay"'],
    });
    expect(targets.length).toBeGreaterThanOrEqual(5);
    const statuses = await sweepOperations(targets, contract, inject("testApiKey"), RUNS_PER_OPERATION, (url, init) =>
      app.request(url, init, env),
    );
    expect([...statuses]).toEqual(expect.arrayContaining([200, 400]));
    const health = await app.request("/health", {}, env);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status: string }).status).toBe("ok");
  }, 90_000);
});
