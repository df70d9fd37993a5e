// /health inside workerd: every tier reached for real (KV, Durable Object, Redis via gateway, Postgres via relay).
import { env, SELF } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";

interface Health {
  status: string;
  tiers: Record<string, { status: string; latency_ms?: number; detail?: string }>;
}

describe("GET /health (serving)", () => {
  it("reports every configured tier ok with a latency", async () => {
    const res = await SELF.fetch("http://fs/health");
    expect(res.status).toBe(200);
    const body = (await res.json()) as Health;
    expect(body.tiers.kv?.status).toBe("ok");
    expect(body.tiers.durable_object?.status).toBe("ok");
    expect(body.tiers.postgres?.status).toBe("ok");
    expect(body.tiers.postgres?.detail).toMatch(/^postgres /);
    expect(body.tiers.redis?.status).toBe(inject("redisAvailable") ? "ok" : "off");
    expect(body.tiers.memory?.status).toBe("ok");
    expect(body.tiers.queue?.status).toBe("ok");
    expect(body.status).toBe("ok");
    for (const t of Object.values(body.tiers)) if (t.status === "ok") expect(typeof t.latency_ms).toBe("number");
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await SELF.fetch("http://fs/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });

  it("has the bindings the tests rely on", () => {
    expect(env.DATABASE_URL).toContain("fs_test_");
  });
});
