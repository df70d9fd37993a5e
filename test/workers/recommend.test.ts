// POST /recommendations/features inside workerd against real Postgres: planted signal first, noise last, leakage flagged, input refused by field.
import { beforeAll, describe, expect, it } from "vitest";
import { mulberry32 } from "../../src/core/random";
import { MAX_RECOMMEND_SPINE_ROWS } from "../../src/training";
import { post, publishRegistry, SERVE_ONLY_KEY, sql, uniqueId } from "./support";

const MINUTE = 60_000;
const T = Date.UTC(2024, 6, 1, 12, 0);
const USERS = 300;

const SIGNAL = "user_profile_features:listening_hours_weekly";
const WEAK = "user_profile_features:subscription_type";
const NOISE = "user_behavior_features:play_queue_length";
const LEAK = "user_profile_features:country";

interface Score {
  feature: string;
  mutual_information: number;
  auc?: number;
  auc_direction?: string;
  coverage: number;
  leakage: boolean;
  warnings: string[];
}
interface Answer {
  label: string;
  rows: number;
  binary: boolean;
  positive_label?: unknown;
  ranking: Score[];
}

/** One INSERT for many observations: [feature, entity id, value, event time]. */
async function putValues(values: [string, string, unknown, number][]): Promise<void> {
  await sql(
    `insert into feature_values (feature_name, entity_type, entity_id, feature_value, event_timestamp, ingested_at, idempotency_key)
     select f, 'user', e, v::jsonb, t, t, k
     from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) as x(f, e, v, t, k)`,
    [
      values.map((v) => v[0]),
      values.map((v) => v[1]),
      values.map((v) => JSON.stringify(v[2])),
      values.map((v) => new Date(v[3]).toISOString()),
      values.map(() => uniqueId("k")),
    ],
  );
}

const flat = (ref: string) => ref.split(":")[1]!;
const spine: { entity_id: string; event_timestamp: string; label: number }[] = [];
const leakSpine: { user_id: string; event_timestamp: number; churned: string }[] = [];

beforeAll(async () => {
  await publishRegistry();
  const random = mulberry32(16);
  const values: [string, string, unknown, number][] = [];
  const prefix = uniqueId("user_rec");
  for (let i = 0; i < USERS; i++) {
    const user = `${prefix}_${i}`;
    const rowTs = T + i * MINUTE;
    // label = [hours > 84], flipped for 10% of users: the signal predicts it well, not perfectly.
    const hours = Math.round(random() * 1680) / 10;
    const label = hours > 84 !== random() < 0.1 ? 1 : 0;
    // The weak feature agrees with the label 65% of the time; the noise is drawn independently of both.
    const plan = random() < 0.65 === (label === 1) ? "premium" : "free";
    const queue = Math.floor(random() * 100);
    values.push([flat(SIGNAL), user, hours, rowTs - 30 * MINUTE], [flat(WEAK), user, plan, rowTs - 30 * MINUTE]);
    values.push([flat(NOISE), user, queue, rowTs - 5 * MINUTE]);
    // Observed after the label: the as-of join must never show it.
    values.push([flat(SIGNAL), user, 168 - hours, rowTs + MINUTE]);
    spine.push({ entity_id: user, event_timestamp: new Date(rowTs).toISOString(), label });
  }
  // Leak: country written at the label's own time from the label itself (the label event feeding a feature).
  const leakPrefix = uniqueId("user_leak");
  for (let i = 0; i < 60; i++) {
    const user = `${leakPrefix}_${i}`;
    const rowTs = T + i * MINUTE;
    const churned = i % 2 === 0 ? "yes" : "no";
    values.push([flat(LEAK), user, churned === "yes" ? "US" : "DE", rowTs]);
    values.push([flat(SIGNAL), user, random() * 100, rowTs - 30 * MINUTE]);
    leakSpine.push({ user_id: user, event_timestamp: rowTs, churned });
  }
  await putValues(values);
}, 60_000);

async function recommend(body: unknown, key?: string): Promise<Response> {
  return post("/recommendations/features", body, key);
}

async function errorOf(res: Response): Promise<{ code: string; message: string; details?: Record<string, unknown> }> {
  return ((await res.json()) as { error: { code: string; message: string; details?: Record<string, unknown> } }).error;
}

describe("POST /recommendations/features", () => {
  it("ranks the planted predictor first and the noise last, on the point-in-time values", async () => {
    const res = await recommend({ spine, candidates: [NOISE, WEAK, SIGNAL] });
    expect(res.status, await res.clone().text()).toBe(200);
    const answer = (await res.json()) as Answer;
    expect(answer).toMatchObject({ label: "label", rows: USERS, binary: true, positive_label: 1 });
    expect(answer.ranking.map((s) => s.feature)).toEqual([SIGNAL, WEAK, NOISE]);
    const [signal, weak, noise] = answer.ranking as [Score, Score, Score];
    // 10% flips: H(Y|X) is about H(0.1) = 0.47 bits, so I(X;Y) is about 0.5; far above the noise's small-sample bias.
    expect(signal.mutual_information).toBeGreaterThan(0.35);
    expect(noise.mutual_information).toBeLessThan(0.05);
    expect(weak.mutual_information).toBeGreaterThan(noise.mutual_information);
    // AUC of hours for the label: about 0.9 (only flips break the order); higher hours, positive label.
    expect(signal.auc).toBeGreaterThan(0.85);
    expect(signal.auc_direction).toBe("higher");
    expect(noise.auc).toBeLessThan(0.6);
    expect(weak.auc).toBeUndefined(); // categorical: MI only
    for (const s of answer.ranking) {
      expect(s.coverage, s.feature).toBe(1);
      expect(s.leakage, s.feature).toBe(false);
    }
  });

  it("ranks a whole group and reports features without values last, with coverage 0", async () => {
    const res = await recommend({ spine, candidates: ["user_profile_features"] });
    expect(res.status, await res.clone().text()).toBe(200);
    const answer = (await res.json()) as Answer;
    expect(answer.ranking[0]?.feature).toBe(SIGNAL);
    const empty = answer.ranking.filter((s) => s.coverage === 0);
    expect(empty.map((s) => s.feature).sort()).toEqual(
      ["country", "device_preferences", "favorite_genres", "user_age_group"].map((n) => `user_profile_features:${n}`),
    );
    for (const s of empty) {
      expect(s.mutual_information).toBe(0);
      expect(s.warnings).toContain("no values for these rows");
    }
    expect(answer.ranking.slice(-empty.length)).toEqual(expect.arrayContaining(empty));
  });

  it("flags values observed at the label time as leakage, and a near-perfect score as suspicious", async () => {
    const res = await recommend({ spine: leakSpine, label: "churned", candidates: [LEAK, SIGNAL] });
    expect(res.status, await res.clone().text()).toBe(200);
    const answer = (await res.json()) as Answer;
    expect(answer).toMatchObject({ label: "churned", rows: 60, binary: true, positive_label: "yes" });
    const leak = answer.ranking.find((s) => s.feature === LEAK)!;
    expect(leak.leakage).toBe(true);
    expect(leak.mutual_information).toBeCloseTo(1, 6);
    expect(leak.warnings.join("\n")).toMatch(/observed at exactly the label time/);
    expect(leak.warnings.join("\n")).toMatch(/almost perfectly/);
    expect(answer.ranking.find((s) => s.feature === SIGNAL)?.leakage).toBe(false);
  });

  it("refuses bad input with a 400 naming the field, an oversized spine with 413, a serve key with 403", async () => {
    const cases: [unknown, number, string | RegExp][] = [
      [{ candidates: [SIGNAL] }, 400, "spine"],
      [{ spine: [] }, 400, "spine"],
      [{ spine: [{ entity_id: "user_1", label: 1 }] }, 400, "spine"],
      [{ spine: [{ entity_id: "user_1", event_timestamp: "yesterday", label: 1 }] }, 400, "spine"],
      [{ spine, label: "clicked" }, 400, "label"],
      [{ spine: spine.map((r) => ({ ...r, label: 1 })) }, 400, "label"],
      [{ spine, candidates: ["no_such_group", SIGNAL] }, 400, "candidates"],
      [{ spine, candidates: [] }, 400, "candidates"],
      [{ spine, extra: true }, 400, "extra"],
    ];
    for (const [body, status, field] of cases) {
      const res = await recommend(body);
      expect(res.status, JSON.stringify(body).slice(0, 120)).toBe(status);
      const error = await errorOf(res);
      expect(`${error.message} ${JSON.stringify(error.details ?? {})}`, JSON.stringify(body).slice(0, 120)).toContain(field);
    }
    const unknown = await errorOf(await recommend({ spine, candidates: ["no_such_group"] }));
    expect(unknown.details).toMatchObject({ field: "candidates", unknown: ["no_such_group"] });
    const label = await errorOf(await recommend({ spine, label: "clicked" }));
    expect(label.details).toMatchObject({ field: "label" });

    const tooMany = Array.from({ length: MAX_RECOMMEND_SPINE_ROWS + 1 }, (_, i) => ({
      entity_id: `user_${i}`,
      event_timestamp: T,
      label: i % 2,
    }));
    const big = await recommend({ spine: tooMany });
    expect(big.status).toBe(413);
    expect((await errorOf(big)).details).toMatchObject({ limit: MAX_RECOMMEND_SPINE_ROWS });

    expect((await recommend({ spine, candidates: [SIGNAL] }, SERVE_ONLY_KEY)).status).toBe(403);
  });
});
