// GET /registry/features/{name}/related inside workerd: scored, explained, deterministic, validated.
import { beforeAll, describe, expect, it } from "vitest";
import { get, INGEST_ONLY_KEY, publishRegistry, SERVE_ONLY_KEY } from "./support";

interface Related {
  feature: string;
  count: number;
  related: { name: string; group: string; score: number; reasons: string[] }[];
}

beforeAll(() => publishRegistry());

describe("GET /registry/features/{name}/related", () => {
  it("lists related features best first with the reasons behind each score (serve scope)", async () => {
    const res = await get("/registry/features/user_behavior_features:skip_rate_7d/related", SERVE_ONLY_KEY);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = (await res.json()) as Related;
    expect(body.feature).toBe("skip_rate_7d");
    expect(body.related.length).toBeGreaterThan(3);
    const scores = body.related.map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    const skips = body.related.find((r) => r.name === "skips_1h");
    expect(skips?.reasons).toEqual(
      expect.arrayContaining(["aggregates the same event type: listening_event", "used together in feature service skip_predictor_v1"]),
    );
    for (const r of body.related) expect(r.reasons.length, r.name).toBeGreaterThan(0);
    // The same answer on a second call: the order is deterministic.
    expect(await (await get("/registry/features/skip_rate_7d/related", SERVE_ONLY_KEY)).json()).toEqual(body);
  });

  it("relates an on-demand feature to the stored feature it reads (lineage)", async () => {
    const body = (await (await get("/registry/features/user_track_genre_affinity/related")).json()) as Related;
    expect(body.related[0]).toMatchObject({
      name: "favorite_genres",
      reasons: expect.arrayContaining([expect.stringMatching(/^upstream/)]),
    });
    const back = (await (await get("/registry/features/favorite_genres/related")).json()) as Related;
    expect(back.related.find((r) => r.name === "user_track_genre_affinity")?.reasons).toContain(
      "downstream: it is computed from favorite_genres",
    );
  });

  it("applies limit, answers 404 for an unknown feature, 400 for a bad limit, 403 for an ingest key", async () => {
    const limited = (await (await get("/registry/features/skip_rate_7d/related?limit=2")).json()) as Related;
    expect(limited.related).toHaveLength(2);
    expect(limited.count).toBeGreaterThan(2);
    const missing = await get("/registry/features/no_such_feature/related");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("not_found");
    expect((await get("/registry/features/skip_rate_7d/related?limit=0")).status).toBe(400);
    expect((await get("/registry/features/skip_rate_7d/related?limit=abc")).status).toBe(400);
    expect((await get("/registry/features/skip_rate_7d/related", INGEST_ONLY_KEY)).status).toBe(403);
  });
});
