// Hostile input, pure parts (issue 13): the identifier rule, echoed snippets, duplicate JSON keys, CSV formula escaping, key comparison.
import { describe, expect, it } from "vitest";
import { type ApiKeyEntry, constantTimeEqual, findApiKey } from "../../src/core/auth";
import { EntityType, FeatureDefinition } from "../../src/core/definitions";
import { snippet } from "../../src/core/errors";
import { EntityId, entityIdProblem, isValidEntityId, MAX_ENTITY_ID_BYTES } from "../../src/core/identifiers";
import { CompiledRegistry } from "../../src/core/registry";
import { duplicateKeyPath } from "../../src/http/json-duplicate-keys";
import { checkUpdate, nonFinitePath } from "../../src/ingest/validate-update";
import { decodeCsvCell, encodeCsvRecord, encodeCsvValue } from "../../src/training/csv";
import { planFeatures, resolveSpineIds, typedEntities } from "../../src/training/plan";
import { spineFromObjects } from "../../src/training/spine";

const REGISTRY = new CompiledRegistry({
  version: "r-hardening",
  version_number: 1,
  applied_at: "2026-12-01T00:00:00.000Z",
  author: "test",
  entities: [EntityType.parse({ name: "user", join_key: "user_id", description: "listener", id_prefix: "user_" })],
  features: [
    FeatureDefinition.parse({
      name: "score",
      group: "g_user",
      entity_type: "user",
      feature_type: "numerical",
      computation_type: "batch",
      source_query: "select 1",
      update_frequency: "1h",
      retention_days: 30,
      ttl_seconds: 60,
      description: "a score",
      owner: "test@echotune.fm",
    }),
  ],
});

describe("the one entity id rule", () => {
  it("accepts ordinary ids, astral characters and exactly the byte limit", () => {
    for (const id of ["user_1", "track_🎵", "é".repeat(MAX_ENTITY_ID_BYTES / 2), "a".repeat(MAX_ENTITY_ID_BYTES)])
      expect(entityIdProblem(id), id.slice(0, 10)).toBeUndefined();
  });

  it("refuses empty ids, control characters, lone surrogates and ids over the byte limit, naming the rule", () => {
    expect(entityIdProblem("")?.rule).toBe("empty");
    for (const id of ["a\u0000b", "a\tb", "a\nb", "a\u007fb", "a\u0085b"]) expect(entityIdProblem(id)?.rule).toBe("control_character");
    for (const id of ["a\ud800", "\udc00a", "a\ud83d\ud83db"]) expect(entityIdProblem(id)?.rule).toBe("lone_surrogate");
    expect(entityIdProblem("a".repeat(MAX_ENTITY_ID_BYTES + 1))?.rule).toBe("too_long");
    // 129 two-byte characters are 258 bytes: over the limit in bytes though under it in characters.
    expect(entityIdProblem("é".repeat(129))?.rule).toBe("too_long");
    expect(isValidEntityId(42)).toBe(false);
    const parsed = EntityId.safeParse("x\u0000");
    expect(parsed.success).toBe(false);
  });

  it("fits KV's 512-byte key limit with our prefix", () => {
    expect(new TextEncoder().encode(`row:session:${"é".repeat(MAX_ENTITY_ID_BYTES / 2)}`).byteLength).toBeLessThanOrEqual(512);
  });

  it("is enforced in training spines (per row, naming the column) and in range mode", () => {
    const plan = planFeatures(REGISTRY, ["score"]);
    const spine = spineFromObjects([
      { event_timestamp: "2026-11-30T00:00:00Z", entity_id: "user_1" },
      { event_timestamp: "2026-11-30T00:00:00Z", entity_id: "user_\u0000" },
      { event_timestamp: "2026-11-30T00:00:00Z", user_id: `user_${"x".repeat(600)}` },
    ]);
    expect(() => resolveSpineIds(REGISTRY, plan, spine)).toThrow(
      /row 2: entity_id must not contain control characters.*row 3: user_id must be at most 256 UTF-8 bytes/,
    );
    expect(() => typedEntities(REGISTRY, plan, ["user_1", "user_\ud800"], "user")).toThrow(/lone UTF-16 surrogate/);
  });
});

describe("numbers that would change meaning", () => {
  it("finds the non-finite number inside a value (1e309 parses to Infinity)", () => {
    expect(nonFinitePath(JSON.parse("1e309"))).toBe("");
    expect(nonFinitePath([1, 2, -Infinity])).toBe("2");
    expect(nonFinitePath({ a: [0, { b: Number.NaN }] })).toBe("a.1.b");
    for (const ok of [0, -0, 1e308, 5e-324, 2 ** 53 + 1, 0.1 + 0.2, [1.5], "Infinity"]) expect(nonFinitePath(ok)).toBeUndefined();
  });

  it("the consumer's check dead-letters a non-finite number with its rule", () => {
    const check = checkUpdate(
      REGISTRY,
      { entity_type: "user", entity_id: "user_1", event_timestamp: Date.now() - 1000, features: { score: Number.POSITIVE_INFINITY } },
      Date.now(),
    );
    expect(check.writes).toEqual([]);
    expect(check.reasons).toEqual([
      expect.objectContaining({ feature: "score", rule: "finite", message: expect.stringMatching(/finite/) }),
    ]);
  });
});

describe("echoed input", () => {
  it("is at most a short snippet, control characters and lone surrogates escaped", () => {
    expect(snippet("x".repeat(1000))).toHaveLength(65);
    expect(snippet("a\u0000b\ud800c\n")).toBe("a\\u0000b\\ud800c\\u000a");
    expect(snippet("track_🎵")).toBe("track_🎵");
  });
});

describe("duplicate JSON keys", () => {
  it("names the path of the first key given twice, comparing decoded keys, and passes bodies without one", () => {
    expect(duplicateKeyPath('{"a":1,"a":2}')).toBe("a");
    expect(duplicateKeyPath('{"x":[{"a":1},{"b":{"c":1,"\\u0063":2}}]}')).toBe("x.1.b.c");
    expect(duplicateKeyPath('[{"a":1},{"a":1}]')).toBeUndefined();
    expect(duplicateKeyPath('{"a":"{\\"a\\":1,\\"a\\":2}","b":["a","a"]}')).toBeUndefined();
    expect(duplicateKeyPath('{"a":{"a":{"a":1}}}')).toBeUndefined();
  });

  it("answers the same when given the parsed body (counting keys first), also for colons inside strings and spaced colons", () => {
    const bodies = [
      '{"a":1,"a":2}',
      '{"x":[{"a":1},{"b":{"c":1,"\\u0063":2}}]}',
      '[{"a":1},{"a":1}]',
      '{"a":"{\\"a\\":1,\\"a\\":2}","b":["a","a"]}',
      '{"a":{"a":{"a":1}}}',
      '{"a":":","a":1}',
      '{":":1,":":2}',
      '{"a":" :","b":[":",{"c":":"}]}',
      '{"a" : 1, "b"\n:{"a" :2, "a"\t: 3}}',
      '{"a":1,"__proto__":2,"__proto__":3}',
      "[1,2,3]",
      '"a:"',
    ];
    for (const body of bodies) expect(duplicateKeyPath(body, JSON.parse(body)), body).toBe(duplicateKeyPath(body));
    expect(duplicateKeyPath('{"a":":","a":1}', JSON.parse('{"a":":","a":1}'))).toBe("a");
    expect(duplicateKeyPath('{"a" : 1, "b"\n:{"a" :2, "a"\t: 3}}', {})).toBe("b.a");
  });
});

describe("training-set CSV against formula injection", () => {
  it("escapes text cells starting with = + - @ tab or CR, keeps numbers (also numeric text) as they are", () => {
    expect(encodeCsvValue('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(encodeCsvValue("+1+1")).toBe("'+1+1");
    expect(encodeCsvValue("-2+3")).toBe("'-2+3");
    expect(encodeCsvValue("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(encodeCsvValue("\tx")).toBe("'\tx");
    expect(encodeCsvValue("\rx")).toBe(`"'\rx"`);
    expect(encodeCsvValue(-1.5)).toBe("-1.5");
    expect(encodeCsvValue("-1.5")).toBe("-1.5");
    expect(encodeCsvValue("-3e-7")).toBe("-3e-7");
    expect(encodeCsvValue(["=x"])).toBe('"[""=x""]"');
    expect(encodeCsvRecord(["=cmd", "ok", 2])).toBe("'=cmd,ok,2\r\n");
    expect(decodeCsvCell("-1.5")).toBe(-1.5);
  });
});

describe("API key comparison", () => {
  const entries = new Map<string, ApiKeyEntry>(
    ["a", "b", "c"].map((c) => [c.repeat(64), { hash: c.repeat(64), scopes: new Set(["serve" as const]) }]),
  );

  it("compares in constant time against every entry, for a known and an unknown hash alike", () => {
    const reads = (hash: string) => {
      let n = 0;
      const counted = new Map(
        [...entries].map(([k, e]) => [
          k,
          {
            scopes: e.scopes,
            get hash() {
              n++;
              return e.hash;
            },
          },
        ]),
      );
      const found = findApiKey(hash, counted);
      const compared = n;
      return { found: found?.hash, n: compared };
    };
    expect(reads("a".repeat(64))).toEqual({ found: "a".repeat(64), n: 3 });
    expect(reads(`${"a".repeat(63)}x`)).toEqual({ found: undefined, n: 3 });
    expect(reads("f".repeat(64))).toEqual({ found: undefined, n: 3 });
  });

  it("constantTimeEqual is plain equality", () => {
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "ab")).toBe(false);
    expect(constantTimeEqual("", "")).toBe(true);
  });
});
