// The hand check of plain feature requests agrees with the zod schema: what it accepts zod accepts as the same value, and it passes everything else on.
import { describe, expect, it } from "vitest";
import { BatchRequest, FeatureRequest, parseBatchRequest, parseFeatureRequest } from "../../src/core/feature-request";
import { isPlainFeatureRequest } from "../../src/core/feature-request-check";

const NAMES = Array.from({ length: 50 }, (_, i) => `ub_${String(i).padStart(2, "0")}`);

/** Requests the hand check takes itself. */
const PLAIN: unknown[] = [
  { entity_id: "user_1", feature_names: NAMES, include_metadata: true },
  { entity_id: "user_1", feature_names: ["skip_rate_7d"] },
  { feature_names: ["user_features:skip_rate_7d"], entity_id: "user_1", entity_type: "user" },
  { entity_id: "u", feature_service: "recs_v1" },
  { entity_id: "u", feature_service: "s".repeat(128), feature_names: ["a"], include_metadata: false, max_staleness_ms: 0 },
  { entity_id: "u", feature_names: ["a"], max_staleness_ms: 2 ** 53 - 1 },
  { entity_id: "é".repeat(128), feature_names: ["ü".repeat(128)] },
  { entity_id: "😀", feature_names: ["a"], entity_type: "session" },
];

/** Valid requests it leaves to zod (other keys, an object JSON.parse does not make). */
const VALID_FOR_ZOD: unknown[] = [
  Object.assign(Object.create(null), { entity_id: "u", feature_names: ["a"] }),
  { entity_id: "user_1", feature_names: ["a"], context: { device: "ios" } },
  { entity_id: "user_1", feature_names: ["a"], entities: { track: "track_1" } },
];

/** Invalid requests: each must go to zod (which refuses it). */
const INVALID: unknown[] = [
  null,
  "user_1",
  [],
  [{ entity_id: "u", feature_names: ["a"] }],
  {},
  { entity_id: "u" },
  { feature_names: ["a"] },
  { entity_id: "", feature_names: ["a"] },
  { entity_id: 7, feature_names: ["a"] },
  { entity_id: "a\u0000b", feature_names: ["a"] },
  { entity_id: "a\tb", feature_names: ["a"] },
  { entity_id: "\uD800", feature_names: ["a"] },
  { entity_id: "x".repeat(257), feature_names: ["a"] },
  { entity_id: "é".repeat(129), feature_names: ["a"] },
  { entity_id: "u", feature_names: [] },
  { entity_id: "u", feature_names: "a" },
  { entity_id: "u", feature_names: ["a", ""] },
  { entity_id: "u", feature_names: ["a", 1] },
  { entity_id: "u", feature_names: ["x".repeat(258)] },
  { entity_id: "u", feature_names: ["a\nb"] },
  { entity_id: "u", feature_service: "" },
  { entity_id: "u", feature_service: "s".repeat(129) },
  { entity_id: "u", feature_service: 3 },
  { entity_id: "u", feature_names: ["a"], entity_type: "planet" },
  { entity_id: "u", feature_names: ["a"], entity_type: "toString" },
  { entity_id: "u", feature_names: ["a"], include_metadata: "true" },
  { entity_id: "u", feature_names: ["a"], max_staleness_ms: -1 },
  { entity_id: "u", feature_names: ["a"], max_staleness_ms: 1.5 },
  { entity_id: "u", feature_names: ["a"], max_staleness_ms: 2 ** 53 },
  { entity_id: "u", feature_names: ["a"], max_staleness_ms: "5" },
  { entity_id: "u", feature_names: ["a"], unknown_key: 1 },
  JSON.parse('{"entity_id":"u","feature_names":["a"],"__proto__":{"x":1}}'),
];

describe("isPlainFeatureRequest", () => {
  it("takes plain valid requests as zod parses them", () => {
    for (const raw of PLAIN) {
      const zod = FeatureRequest.safeParse(raw);
      expect(zod.success, JSON.stringify(raw)).toBe(true);
      expect(isPlainFeatureRequest(raw), JSON.stringify(raw)).toBe(true);
      expect(parseFeatureRequest(raw)).toStrictEqual({ success: true, data: raw });
      expect(raw).toStrictEqual(zod.data);
    }
  });

  it("leaves other valid requests to zod", () => {
    for (const raw of VALID_FOR_ZOD) {
      expect(isPlainFeatureRequest(raw)).toBe(false);
      expect(parseFeatureRequest(raw).success).toBe(true);
    }
  });

  it("accepts no invalid request, so zod words every 400", () => {
    for (const raw of INVALID) {
      expect(isPlainFeatureRequest(raw), String(JSON.stringify(raw))).toBe(false);
      expect(FeatureRequest.safeParse(raw).success, String(JSON.stringify(raw))).toBe(false);
      expect(parseFeatureRequest(raw)).toStrictEqual(FeatureRequest.safeParse(raw));
    }
  });
});

describe("parseBatchRequest", () => {
  it("takes a batch of plain requests, bare or wrapped, as BatchRequest parses it", () => {
    const bare = PLAIN;
    expect(parseBatchRequest(bare)).toStrictEqual({ success: true, data: BatchRequest.parse(bare) });
    const wrapped = { requests: PLAIN };
    expect(parseBatchRequest(wrapped)).toStrictEqual({ success: true, data: BatchRequest.parse(wrapped) });
  });

  it("sends a batch with any other request to zod, with its precise issue path", () => {
    const bad = [...PLAIN, { entity_id: "", feature_names: ["a"] }];
    const got = parseBatchRequest(bad);
    expect(got.success).toBe(false);
    expect(got.error?.issues[0]?.path).toEqual([PLAIN.length, "entity_id"]);
    const wrapped = parseBatchRequest({ requests: bad });
    expect(wrapped.error?.issues[0]?.path).toEqual(["requests", PLAIN.length, "entity_id"]);
    expect(parseBatchRequest({ requests: PLAIN, extra: 1 }).success).toBe(false);
    expect(parseBatchRequest([...PLAIN, ...VALID_FOR_ZOD]).success).toBe(true);
    expect(parseBatchRequest({ requests: "x" }).success).toBe(false);
    expect(parseBatchRequest(null).success).toBe(false);
  });
});
