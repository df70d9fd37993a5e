// GET /quality and GET /quality/features/:name over rows of feature_quality: latest per feature, history in order, failing targets, errors.
import { beforeAll, describe, expect, it } from "vitest";
import { get, publishRegistry, SERVE_ONLY_KEY, sql } from "./support";

const FEATURE = "listening_hours_weekly";
const HOUR = 3_600_000;
const base = Date.now() - 5 * HOUR;

interface Point {
  feature_name: string;
  computed_at: string;
  completeness: number;
  score: number;
  failing: string[];
  drift: { status: string; psi: number | null };
}

async function insertRow(atMs: number, completeness: number, drift: "ok" | "drift", stalenessSeconds: number): Promise<void> {
  await sql(
    `insert into feature_quality (computed_at, feature_name, entity_type, entities, with_value, fresh_non_null, staleness_seconds,
       stale_share, completeness, updates, rejects, validation_error_rate, drift_status, psi, drift_test, drift_statistic, drift_p_value,
       score, details)
     values (to_timestamp($1 / 1000.0), $2, 'user', 100, 100, round($3::float8 * 100)::int, $4, 0, $3::float8, 1000, 0, 0, $5, 0.3, 'ks', 0.2, 0.001,
       $6, $7::jsonb)`,
    [
      atMs,
      FEATURE,
      completeness,
      stalenessSeconds,
      drift,
      drift === "drift" ? 80 : 100,
      JSON.stringify({
        update_frequency_seconds: 3600,
        ttl_seconds: 7200,
        tags: ["core"],
        drift: { reasons: drift === "drift" ? ["psi 0.300 > 0.2"] : [] },
      }),
    ],
  );
}

beforeAll(async () => {
  await publishRegistry();
  await sql("delete from feature_quality where feature_name = $1", [FEATURE]);
  await insertRow(base, 1, "ok", 60);
  await insertRow(base + HOUR, 0.99, "ok", 60);
  // The newest: incomplete (a core feature), drifting and stale (3 h > 2 × 1 h update frequency).
  await insertRow(base + 2 * HOUR, 0.9, "drift", 3 * 3600);
});

describe("GET /quality", () => {
  it("lists each feature's newest row with the targets it misses", async () => {
    const res = await get("/quality", SERVE_ONLY_KEY);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { targets: Record<string, number>; features: Point[]; failing: number };
    expect(body.targets).toEqual({ completeness: 0.95, validation_error_rate: 0.001, score: 95 });
    const mine = body.features.filter((f) => f.feature_name === FEATURE);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.completeness).toBe(0.9);
    expect(mine[0]!.failing).toEqual(["stale", "completeness", "drift", "score"]);
    expect(body.failing).toBeGreaterThanOrEqual(1);
    const failingOnly = (await (await get("/quality?failing=true", SERVE_ONLY_KEY)).json()) as { features: Point[] };
    expect(failingOnly.features.every((f) => f.failing.length > 0)).toBe(true);
  });

  it("answers 401 without a key and 400 for an unknown parameter", async () => {
    expect((await get("/quality", null)).status).toBe(401);
    const bad = await get("/quality?failing=maybe", SERVE_ONLY_KEY);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBeTruthy();
  });
});

describe("GET /quality/features/:name", () => {
  it("returns the history oldest first, by flat or qualified name, within from/to", async () => {
    const res = await get(`/quality/features/user_profile_features:${FEATURE}`, SERVE_ONLY_KEY);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { feature_name: string; latest: Point; history: Point[] };
    expect(body.feature_name).toBe(FEATURE);
    expect(body.history.map((p) => p.completeness)).toEqual([1, 0.99, 0.9]);
    expect(body.latest.drift.status).toBe("drift");
    const from = new Date(base + HOUR / 2).toISOString();
    const ranged = (await (await get(`/quality/features/${FEATURE}?from=${from}&limit=1`, SERVE_ONLY_KEY)).json()) as { history: Point[] };
    expect(ranged.history.map((p) => p.completeness)).toEqual([0.9]);
  });

  it("answers 404 for an unknown feature and 400 for a bad range", async () => {
    expect((await get("/quality/features/no_such_feature", SERVE_ONLY_KEY)).status).toBe(404);
    expect((await get(`/quality/features/${FEATURE}?from=yesterday`, SERVE_ONLY_KEY)).status).toBe(400);
    const reversed = await get(`/quality/features/${FEATURE}?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`, SERVE_ONLY_KEY);
    expect(reversed.status).toBe(400);
    expect((await get(`/quality/features/${FEATURE}?limit=0`, SERVE_ONLY_KEY)).status).toBe(400);
  });
});
