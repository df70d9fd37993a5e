// Edge numbers through the real path (push → queue → consumer) and back from every tier and a training set, bit-exact (issue 13).
//
// Decision on -0: JSON.parse("-0") is -0 but JSON.stringify(-0) is "0", so the queue message (JSON)
// already carries 0; Postgres numeric has no -0 either. A pushed -0 is stored and served as 0,
// everywhere alike. Every other finite double comes back as exactly the double JSON.parse made of
// the literal sent (2^53+1 and long decimals are rounded by the parser, once, before anything is stored).
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { withPostgresClient } from "../../src/db/postgres";
import { getTrainingDataset, spineFromObjects, sqlRunner } from "../../src/training";
import {
  applyTestRegistry,
  inDurableObject,
  inKv,
  inRedis,
  latestInPostgres,
  pgConfig,
  redisAvailable,
  TEST_REGISTRY,
  uid,
  waitFor,
} from "./support";

beforeAll(applyTestRegistry);

/** Literals as a client writes them; each is pushed as written (raw JSON), never re-serialized by the test. */
const STREAM_LITERALS = [
  "0",
  "-0",
  "1e308",
  "1.7976931348623157e308",
  "5e-324",
  "9007199254740993",
  "0.30000000000000004",
  "0.1234567890123456789012345",
  "2.5e-7",
];
/** The embedding carries the negative ones (tst_plays_1h has min_value 0). */
const EMBEDDING_LITERALS = ["[-1e308, -5e-324, -9007199254740993]", "[-0, -0.1234567890123456789, 123456789.98765432]"];

const expected = (literal: string): unknown => {
  const v = JSON.parse(literal) as unknown;
  const normalize = (n: unknown) => (Object.is(n, -0) ? 0 : n);
  return Array.isArray(v) ? v.map(normalize) : normalize(v);
};

/** Compares as doubles, with -0 and 0 told apart (toEqual would not). */
function expectExact(got: unknown, want: unknown, what: string): void {
  if (Array.isArray(want)) {
    expect(Array.isArray(got), what).toBe(true);
    (want as unknown[]).forEach((w, i) => {
      expectExact((got as unknown[])[i], w, `${what}[${i}]`);
    });
    return;
  }
  expect(typeof got, what).toBe("number");
  expect(Object.is(got, want), `${what}: ${String(got)} vs ${String(want)}`).toBe(true);
}

function pushRaw(text: string): Promise<Response> {
  return SELF.fetch("http://ingest/ingest/push", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${inject("testApiKey")}` },
    body: text,
  });
}

describe("edge numbers, pushed and read back from every tier", () => {
  it("come back bit-exact from Postgres, Redis, the Durable Object, KV and a training set (-0 as 0)", async () => {
    const ts = Date.now() - 120_000;
    const iso = new Date(ts).toISOString();
    const cases = [
      ...STREAM_LITERALS.map((literal) => ({ literal, feature: "tst_plays_1h", kind: "stream" as const, id: uid("user_edge") })),
      ...EMBEDDING_LITERALS.map((literal) => ({ literal, feature: "tst_embedding", kind: "batch" as const, id: uid("user_edge") })),
    ];
    const body = `[${cases
      .map((c) => `{"entity_type":"user","entity_id":"${c.id}","event_timestamp":"${iso}","features":{"${c.feature}":${c.literal}}}`)
      .join(",")}]`;
    const res = await pushRaw(body);
    expect(res.status, await res.clone().text()).toBe(202);

    for (const c of cases) {
      const want = expected(c.literal);
      const ref = { entityType: "user", entityId: c.id };
      const pg = await waitFor(`${c.literal} in Postgres`, async () => (await latestInPostgres("user", c.id))[c.feature]);
      expectExact(pg.value, want, `postgres ${c.literal}`);
      if (redisAvailable()) {
        const redis = await waitFor(`${c.literal} in Redis`, async () => (await inRedis(ref, [c.feature]))[c.feature]);
        expectExact(redis.value, want, `redis ${c.literal}`);
      }
      if (c.kind === "stream") {
        const dob = await waitFor(`${c.literal} in the Durable Object`, async () => (await inDurableObject(ref, [c.feature]))[c.feature]);
        expectExact(dob.value, want, `durable object ${c.literal}`);
      } else {
        const kv = await waitFor(`${c.literal} in KV`, async () => (await inKv(ref))[c.feature]);
        expectExact(kv.value, want, `kv ${c.literal}`);
      }
    }

    const set = await withPostgresClient(pgConfig(), (client) =>
      getTrainingDataset(sqlRunner(client), TEST_REGISTRY, {
        spine: spineFromObjects(cases.map((c) => ({ entity_id: c.id, event_timestamp: ts + 1000 }))),
        features: ["tst_plays_1h", "tst_embedding"],
      }),
    );
    expect(set.rows).toHaveLength(cases.length);
    cases.forEach((c, i) => {
      expectExact(set.rows[i]![c.feature], expected(c.literal), `training set ${c.literal}`);
    });
  });
});
