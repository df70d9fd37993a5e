// The synchronous SHA-256 (src/core/sha256.ts) must give WebCrypto's digest for every input, or
// idempotency keys and tiebreaks written before and after it would disagree.
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/hash";
import { sha256HexSync } from "../../src/core/sha256";
import { idempotencyKey } from "../../src/stores/postgres-writer";

describe("sha256HexSync", () => {
  it("matches the FIPS 180-2 test vectors", () => {
    expect(sha256HexSync("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256HexSync("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256HexSync("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("matches WebCrypto at every padding boundary and for non-ASCII text", async () => {
    const inputs = ["é漢字🎉", "\u0000", ...[0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000].map((n) => "a".repeat(n))];
    for (let i = 0; i < 200; i++)
      inputs.push(JSON.stringify(["user", `u_${i}`, `f_${i % 50}`, 1764670000000 + i, { v: i * 1.5, s: "ü".repeat(i) }]));
    for (const text of inputs) expect(sha256HexSync(text), `length ${text.length}`).toBe(await sha256Hex(text));
  });

  it("keeps the idempotency key of a value what WebCrypto made of it", async () => {
    const ts = 1764670000123.7;
    expect(idempotencyKey("user", "u1", "clicks_7d", ts, { a: [1, "x"] })).toBe(
      await sha256Hex(JSON.stringify(["user", "u1", "clicks_7d", Math.trunc(ts), { a: [1, "x"] }])),
    );
  });
});
