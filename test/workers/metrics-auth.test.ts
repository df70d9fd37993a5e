// GET /metrics outside dev (METRICS_AUTH unset = "key"): a key with the metrics or admin scope; public with METRICS_AUTH=public.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseApiKeys } from "../../src/core/auth";
import { sha256Hex } from "../../src/core/hash";
import { createServingApp } from "../../src/serving/app";
import { buildServingContext } from "../../src/serving/context";
import { registry } from "./support";

const KEYS = { metrics: "metrics-scrape-key", serve: "metrics-test-serve", admin: "metrics-test-admin" } as const;

async function appWith(vars: Record<string, string>) {
  const apiKeys = parseApiKeys(
    `${await sha256Hex(KEYS.metrics)}:metrics,${await sha256Hex(KEYS.serve)}:serve,${await sha256Hex(KEYS.admin)}:admin`,
  );
  const reg = registry();
  const deps = buildServingContext({ ...env, ...vars }, { apiKeys, registry: async () => reg, registryVersion: () => reg.version });
  const app = createServingApp(() => deps);
  return (key?: string) => app.request("/metrics", { headers: key ? { authorization: `Bearer ${key}` } : {} }, env);
}

describe("GET /metrics authentication", () => {
  it("takes a metrics (or admin) key when METRICS_AUTH is unset, as in staging and production", async () => {
    const scrape = await appWith({ METRICS_AUTH: "" });
    expect((await scrape()).status).toBe(401);
    expect((await scrape("not-a-key")).status).toBe(401);
    expect((await scrape(KEYS.serve)).status).toBe(403);
    const ok = await scrape(KEYS.metrics);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("# TYPE feature_serving_requests_total counter");
    expect((await scrape(KEYS.admin)).status).toBe(200);
  });

  it("answers without a key with METRICS_AUTH=public (wrangler.toml's dev vars)", async () => {
    const scrape = await appWith({ METRICS_AUTH: "public" });
    expect((await scrape()).status).toBe(200);
  });
});
