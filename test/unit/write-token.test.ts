// Write tokens: what a push answers and a read passes back; the format clients may merge.
import { describe, expect, it } from "vitest";
import { decodeWriteToken, encodeWriteToken, MAX_WRITE_TOKEN_ENTITIES, WriteToken } from "../../src/core/write-token";

describe("write tokens", () => {
  it("round-trips writes, keeping the newest event time per feature of an entity", () => {
    const token = encodeWriteToken([
      { entityType: "user", entityId: "user_1", features: { skip_rate_7d: 10, country: 5 } },
      { entityType: "user", entityId: "user_1", features: { skip_rate_7d: 7 } },
      { entityType: "track", entityId: "trâck_é", features: { energy: 3 } },
    ])!;
    expect(WriteToken.safeParse(token).success).toBe(true);
    expect(decodeWriteToken(token)).toEqual([
      { entityType: "user", entityId: "user_1", features: { skip_rate_7d: 10, country: 5 } },
      { entityType: "track", entityId: "trâck_é", features: { energy: 3 } },
    ]);
  });

  it("answers no token past the entity bound", () => {
    const writes = Array.from({ length: MAX_WRITE_TOKEN_ENTITIES + 1 }, (_, i) => ({
      entityType: "user",
      entityId: `user_${i}`,
      features: { x: 1 },
    }));
    expect(encodeWriteToken(writes)).toBeUndefined();
    expect(encodeWriteToken(writes.slice(1))).toBeDefined();
  });

  it("refuses what is not a token", () => {
    for (const bad of [
      "",
      "wt1.",
      "wt2.abc",
      "wt1.!!!",
      `wt1.${btoa("[]")}`,
      `wt1.${btoa('[["user","user_1",{"x":-1}]]')}`,
      `wt1.${btoa('[["robot","r",{}]]')}`,
    ])
      expect(decodeWriteToken(bad)).toBeUndefined();
  });
});
