// The per-request limits of README's table, each refused with 413 and its limit: the serving Worker's side.
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_BATCH_ENTITIES, MAX_BODY_BYTES, MAX_FEATURES_PER_REQUEST, MAX_VALUES_PER_REQUEST } from "../../src/core/feature-request";
import { MAX_HTTP_TRAINING_ROWS } from "../../src/serving/training-routes";
import { post, publishRegistry } from "./support";

interface ErrorAnswer {
  error: { code: string; message: string; details?: { limit?: number; values?: number } };
}

beforeAll(() => publishRegistry());

async function expect413(res: Response, message: RegExp): Promise<ErrorAnswer> {
  expect(res.status).toBe(413);
  const body = (await res.json()) as ErrorAnswer;
  expect(body.error.code).toBe("payload_too_large");
  expect(body.error.message).toMatch(message);
  return body;
}

const features = (n: number) => Array.from({ length: n }, () => "skip_rate_7d");

describe("per-request limits (README: Request limits)", () => {
  it(`/features/get: more than ${MAX_FEATURES_PER_REQUEST} features, or a body over ${MAX_BODY_BYTES} bytes`, async () => {
    await expect413(
      await post("/features/get", { entity_id: "user_1", feature_names: features(MAX_FEATURES_PER_REQUEST + 1) }),
      /features in one request exceed/,
    );
    const big = { entity_id: "user_1", feature_names: ["skip_rate_7d"], context: { pad: "x".repeat(MAX_BODY_BYTES) } };
    const body = await expect413(await post("/features/get", big), /exceeds the limit/);
    expect(body.error.details?.limit).toBe(MAX_BODY_BYTES);
  });

  it(`/features/batch: more than ${MAX_BATCH_ENTITIES} requests, or more than ${MAX_VALUES_PER_REQUEST} entities × features`, async () => {
    const one = { entity_id: "user_1", feature_names: ["skip_rate_7d"] };
    await expect413(
      await post(
        "/features/batch",
        Array.from({ length: MAX_BATCH_ENTITIES + 1 }, () => one),
      ),
      /exceeds the limit of 1000/,
    );
    // 201 requests × 500 one-letter names: 100,500 values in a body of ~400 kB (under the byte limit).
    const wide = { entity_id: "user_1", feature_names: Array.from({ length: MAX_FEATURES_PER_REQUEST }, () => "a") };
    const requests = Math.ceil((MAX_VALUES_PER_REQUEST + 1) / MAX_FEATURES_PER_REQUEST);
    const refused = await expect413(
      await post(
        "/features/batch",
        Array.from({ length: requests }, () => wide),
      ),
      /entities × features in one request exceed/,
    );
    expect(refused.error.details).toEqual({ limit: MAX_VALUES_PER_REQUEST, values: requests * MAX_FEATURES_PER_REQUEST });
    // Just under the limit is not refused for its size (the unknown name "a" is a 404 instead).
    const under = Math.floor(MAX_VALUES_PER_REQUEST / MAX_FEATURES_PER_REQUEST);
    expect(
      (
        await post(
          "/features/batch",
          Array.from({ length: under }, () => wide),
        )
      ).status,
    ).toBe(404);
  });

  it(`/get-online-features: more than ${MAX_BATCH_ENTITIES} entities, ${MAX_FEATURES_PER_REQUEST} features or ${MAX_VALUES_PER_REQUEST} values`, async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `user_${i + 1}`);
    await expect413(
      await post("/get-online-features", { features: ["skip_rate_7d"], entities: { user_id: ids(MAX_BATCH_ENTITIES + 1) } }),
      /entities exceed the limit/,
    );
    await expect413(
      await post("/get-online-features", { features: features(MAX_FEATURES_PER_REQUEST + 1), entities: { user_id: ids(1) } }),
      /features in one request exceed/,
    );
    await expect413(
      await post("/get-online-features", { features: features(MAX_FEATURES_PER_REQUEST), entities: { user_id: ids(201) } }),
      /entities × features in one request exceed/,
    );
  });

  it(`/datasets/training: a spine over ${MAX_HTTP_TRAINING_ROWS} rows`, async () => {
    const spine = Array.from({ length: MAX_HTTP_TRAINING_ROWS + 1 }, (_, i) => ({ entity_id: `user_${i}`, event_timestamp: 1 }));
    await expect413(await post("/datasets/training", { features: ["skip_rate_7d"], spine }), /50000|rows/);
  });
});
