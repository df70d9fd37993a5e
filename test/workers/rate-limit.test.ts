// Per-caller rate limiting of the serving Worker in workerd: the local bucket from its vars, and Miniflare's simulation of Cloudflare's binding.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/hash";
import { createServingApp } from "../../src/serving/app";
import { buildServingContext, type ServingContextEnv } from "../../src/serving/context";
import { API_KEY, registry, SERVE_ONLY_KEY } from "./support";

interface ErrorAnswer {
  error: { code: string; message: string; details?: { retry_after_seconds?: number } };
}

/** A serving app over its own context (so its own limiter) built from `vars` on top of the test env. */
function appWith(vars: Partial<ServingContextEnv>) {
  const reg = registry();
  const deps = buildServingContext({ ...env, ...vars }, { registry: async () => reg, registryVersion: () => reg.version });
  const app = createServingApp(() => deps);
  return {
    deps,
    get: (key: string | null, ip = "203.0.113.7") =>
      app.request("/registry/features", { headers: { "cf-connecting-ip": ip, ...(key ? { authorization: `Bearer ${key}` } : {}) } }, env),
  };
}

async function expect429(res: Response, retryAfter?: number): Promise<void> {
  expect(res.status).toBe(429);
  const header = res.headers.get("retry-after");
  expect(header).toMatch(/^[1-9]\d*$/);
  if (retryAfter !== undefined) expect(Number(header)).toBe(retryAfter);
  const body = (await res.json()) as ErrorAnswer;
  expect(body.error.code).toBe("rate_limited");
  expect(body.error.details?.retry_after_seconds).toBe(Number(header));
  expect(body.error.message).toMatch(/retry after \d+ s/);
}

describe("local token bucket (no RATE_LIMITER binding): RATE_LIMIT_BURST and RATE_LIMIT_PER_SECOND", () => {
  it("a burst over the limit gets 429 with Retry-After; another key is unaffected; after the refill it answers again", async () => {
    const { deps, get } = appWith({ RATE_LIMIT_BURST: "3", RATE_LIMIT_PER_SECOND: "4" });
    expect(deps.rateLimiter.kind).toBe("local");
    for (let i = 0; i < 3; i++) expect((await get(API_KEY)).status).toBe(200);
    await expect429(await get(API_KEY), 1);
    // Another key, same client IP: its own budget.
    for (let i = 0; i < 3; i++) expect((await get(SERVE_ONLY_KEY)).status).toBe(200);
    await expect429(await get(SERVE_ONLY_KEY));
    // 4 tokens per second: one is back after 250 ms.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await get(API_KEY)).status).toBe(200);
    await expect429(await get(API_KEY));
  });

  it("keys an unknown or missing key by client IP, so random wrong keys do not buy fresh budgets", async () => {
    const { get } = appWith({ RATE_LIMIT_BURST: "2", RATE_LIMIT_PER_SECOND: "1" });
    expect((await get("wrong-key-1")).status).toBe(401);
    expect((await get(null)).status).toBe(401);
    await expect429(await get("wrong-key-2"));
    // Another IP has its own budget; a known key from the throttled IP is keyed by its hash, not the IP.
    expect((await get("wrong-key-3", "198.51.100.9")).status).toBe(401);
    expect((await get(API_KEY)).status).toBe(200);
  });

  it("defaults are generous: 200 back-to-back requests of one key all pass", async () => {
    const { get } = appWith({});
    const statuses = await Promise.all(Array.from({ length: 200 }, async () => (await get(API_KEY)).status));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it("a malformed var falls back to the default instead of throttling everyone", async () => {
    const { get } = appWith({ RATE_LIMIT_BURST: "0", RATE_LIMIT_PER_SECOND: "lots" });
    for (let i = 0; i < 20; i++) expect((await get(API_KEY)).status).toBe(200);
  });
});

describe("Cloudflare's rate-limiting binding (Miniflare's simulation, limit 3 per 10 s)", () => {
  it("429 with Retry-After of the window once a key's count is spent; another key is unaffected", async () => {
    if (!env.RATE_LIMITER_TEST) throw new Error("vitest.config.ts must declare the RATE_LIMITER_TEST binding");
    const { deps, get } = appWith({ RATE_LIMITER: env.RATE_LIMITER_TEST });
    expect(deps.rateLimiter.kind).toBe("binding");
    for (let i = 0; i < 3; i++) expect((await get(API_KEY)).status).toBe(200);
    await expect429(await get(API_KEY), 10);
    expect((await get(SERVE_ONLY_KEY)).status).toBe(200);
    // The binding was keyed by the key's hash, never by the raw key: the raw key's own budget is untouched.
    for (let i = 0; i < 3; i++) expect((await env.RATE_LIMITER_TEST.limit({ key: API_KEY })).success).toBe(true);
    expect((await env.RATE_LIMITER_TEST.limit({ key: `key:${await sha256Hex(API_KEY)}` })).success).toBe(false);
  });
});
