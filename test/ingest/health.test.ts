// GET /health of the ingest Worker inside workerd: every tier reached for real, and the registry version it validates with.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { applyTestRegistry, TEST_SNAPSHOT } from "./support";

beforeAll(applyTestRegistry);

describe("GET /health (ingest)", () => {
  it("reports the tiers and the registry version", async () => {
    const res = await SELF.fetch("http://ingest/health");
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      worker: string;
      registry_version: string;
      tiers: Record<string, { status: string }>;
    };
    expect(body.worker).toBe("feature-ingest");
    expect(body.registry_version).toBe(TEST_SNAPSHOT.version);
    expect(body.tiers.postgres?.status).toBe("ok");
    expect(body.tiers.kv?.status).toBe("ok");
    expect(body.tiers.durable_object?.status).toBe("ok");
    expect(body.tiers.redis?.status).toBe(inject("redisAvailable") ? "ok" : "off");
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await SELF.fetch("http://ingest/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });
});
