// Key rotation without downtime: API_KEYS holds the old and the new key of one client at once, then only the new one.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/hash";
import { createServingApp } from "../../src/serving/app";
import { buildServingContext } from "../../src/serving/context";
import { registry } from "./support";

const OLD_KEY = "fs_client_a_2026_old";
const NEW_KEY = "fs_client_a_2026_new";

/** The Worker as deployed with `apiKeys` as its API_KEYS secret (each deploy builds a fresh context). */
async function deployWith(apiKeys: string) {
  const reg = registry();
  const deps = buildServingContext({ ...env, API_KEYS: apiKeys }, { registry: async () => reg, registryVersion: () => reg.version });
  const app = createServingApp(() => deps);
  return (key: string) =>
    app.request(
      "/features/get",
      {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ entity_id: "user_1", feature_names: ["skip_rate_7d"] }),
      },
      env,
    );
}

describe("API key rotation (README: Keys and rotation)", () => {
  it("both keys of a client work while both hashes are listed; removing the old hash refuses the old key only", async () => {
    const oldHash = await sha256Hex(OLD_KEY);
    const newHash = await sha256Hex(NEW_KEY);

    const oldOnly = await deployWith(`${oldHash}:serve`);
    expect((await oldOnly(OLD_KEY)).status).toBe(200);
    expect((await oldOnly(NEW_KEY)).status).toBe(401);

    const both = await deployWith(`${oldHash}:serve,${newHash}:serve`);
    expect((await both(OLD_KEY)).status).toBe(200);
    expect((await both(NEW_KEY)).status).toBe(200);

    const newOnly = await deployWith(`${newHash}:serve`);
    const refused = await newOnly(OLD_KEY);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    expect((await newOnly(NEW_KEY)).status).toBe(200);
  });
});
