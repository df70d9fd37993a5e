// Per-caller rate limiting of the ingest Worker in workerd: the same limiter as serving, in front of /ingest/push.
import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { createIngestApp } from "../../src/ingest/app";
import { buildIngestContext } from "../../src/ingest/context";
import { INGEST_ONLY_KEY } from "./support";

const API_KEY = inject("testApiKey");

function appWith(vars: Record<string, string>) {
  const deps = buildIngestContext({ ...env, ...vars });
  const app = createIngestApp(() => deps);
  // An empty envelope: answered 400 by validation, after the limiter has counted it.
  return (key: string) =>
    app.request(
      "/ingest/push",
      { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: "{}" },
      env,
    );
}

describe("POST /ingest/push rate limit (local bucket)", () => {
  it("429 with Retry-After and the error shape over the burst; another key unaffected; answers again after the refill", async () => {
    const push = appWith({ RATE_LIMIT_BURST: "2", RATE_LIMIT_PER_SECOND: "5" });
    expect((await push(API_KEY)).status).toBe(400);
    expect((await push(API_KEY)).status).toBe(400);
    const limited = await push(API_KEY);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("1");
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
    expect((await push(INGEST_ONLY_KEY)).status).toBe(400);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await push(API_KEY)).status).toBe(400);
  });
});
