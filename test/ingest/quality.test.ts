// The cron's quality job against the real Postgres: staleness, completeness, validation error rate, drift, the series and its gauges.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { CompiledRegistry } from "../../src/core/registry";
import { runQualityJob } from "../../src/ingest/quality-job";
import { metricsHubOf } from "../../src/monitoring/hub-client";
import { QUALITY_RETENTION_DAYS } from "../../src/monitoring/quality-run";
import { pgConfig, snapshotOf, sql, uid } from "./support";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const now = Date.now();
const suffix = uid("q")
  .replace(/[^a-z0-9]/gi, "_")
  .toLowerCase();
const NUM = `q_num_${suffix}`;
const CAT = `q_cat_${suffix}`;
const base = { owner: "ml-platform@echotune.fm", description: "quality test feature", retention_days: 30 };
const registry = new CompiledRegistry(
  snapshotOf([
    {
      ...base,
      name: NUM,
      group: "q_group",
      entity_type: "session",
      feature_type: "numerical",
      computation_type: "stream",
      update_frequency: "realtime",
      ttl_seconds: 3600,
      tags: ["core"],
    },
    {
      ...base,
      name: CAT,
      group: "q_group",
      entity_type: "session",
      feature_type: "categorical",
      computation_type: "batch",
      source_query: "select null::text as entity_id, null::text as value where false",
      update_frequency: "1h",
      ttl_seconds: 7200,
      drift: { psi_threshold: 0.25 },
    },
  ]),
);
const entity = (i: number) => `session_${suffix}_${i}`;
const hubClient = () => metricsHubOf(env.METRICS_HUB);

async function insertLatest(feature: string, i: number, value: unknown, ageMs: number): Promise<void> {
  await sql(
    `insert into feature_latest (entity_type, entity_id, feature_name, feature_value, event_timestamp)
     values ('session', $1, $2, $3::jsonb, to_timestamp($4 / 1000.0))`,
    [entity(i), feature, JSON.stringify(value), now - ageMs],
  );
}

/** feature_values rows as the consumer appends them; `at` is the event time. */
async function insertValues(feature: string, values: { value: unknown; ts: number }[]): Promise<void> {
  await sql(
    `insert into feature_values (feature_name, entity_type, entity_id, feature_value, event_timestamp, idempotency_key)
     select $1, 'session', 'session_' || v.ord, v.value, to_timestamp(v.ts / 1000.0), $1 || ':' || v.ord
       from rows from (jsonb_to_recordset($2::jsonb) as (value jsonb, ts float8)) with ordinality as v(value, ts, ord)`,
    [feature, JSON.stringify(values)],
  );
}

beforeAll(async () => {
  // Ten sessions hold NUM: 8 fresh (one of them null), 2 older than the one-hour ttl.
  for (let i = 0; i < 8; i++) await insertLatest(NUM, i, i === 0 ? null : i, MINUTE);
  for (let i = 8; i < 10; i++) await insertLatest(NUM, i, i, 2 * HOUR);
  for (let i = 0; i < 10; i++) await insertLatest(CAT, i, i % 2 ? "a" : "b", 30 * MINUTE);
  // Values a day ago (the reference) and today: NUM alike, CAT from 80/20 to 40/60.
  const spread = (n: number, from: number) => Array.from({ length: n }, (_, k) => ({ value: k % 50, ts: from + k * 1000 }));
  await insertValues(NUM, [...spread(250, now - DAY - 2 * HOUR), ...spread(250, now - 2 * HOUR)]);
  const mix = (n: number, shareA: number, from: number) =>
    Array.from({ length: n }, (_, k) => ({ value: k < n * shareA ? "a" : "b", ts: from + k * 1000 }));
  await insertValues(CAT, [...mix(300, 0.8, now - DAY - 2 * HOUR), ...mix(300, 0.4, now - 2 * HOUR)]);
  // Five rejects today against 500 accepted NUM values; a quality row older than the retention.
  await sql(
    `insert into ingest_rejects (day, feature_name, rule, source, rejected) values ((now() at time zone 'UTC')::date, $1, 'min_value', 'push', 5)`,
    [NUM],
  );
  await sql(
    `insert into feature_quality (computed_at, feature_name, entity_type, entities, with_value, fresh_non_null, stale_share, completeness,
       updates, rejects, validation_error_rate, drift_status, score, details)
     values (now() - make_interval(days => $2), $1, 'session', 0, 0, 0, 0, 0, 0, 0, 0, 'ok', 0, '{}'::jsonb)`,
    [NUM, QUALITY_RETENTION_DAYS + 1],
  );
});

describe("quality job", () => {
  it("computes staleness, stale share, completeness, validation error rate and drift per feature, and keeps them as a series", async () => {
    const logs: unknown[] = [];
    const rows = await runQualityJob(
      { postgres: pgConfig(), registry: async () => registry, metricsHub: hubClient(), log: (r) => void logs.push(r) },
      now,
    );
    expect(rows, JSON.stringify(logs)).toBeDefined();
    const num = rows!.find((r) => r.feature_name === NUM)!;
    const cat = rows!.find((r) => r.feature_name === CAT)!;
    expect(num.with_value).toBe(10);
    expect(num.fresh_non_null).toBe(7);
    expect(num.stale_share).toBeCloseTo(0.2, 10);
    expect(num.staleness_seconds).toBeGreaterThanOrEqual(59);
    expect(num.staleness_seconds).toBeLessThan(61);
    // Sessions of other tests count in the denominator too: at least these ten.
    expect(num.entities).toBeGreaterThanOrEqual(10);
    expect(num.completeness).toBeCloseTo(7 / num.entities, 10);
    expect(num.updates).toBe(500);
    expect(num.rejects).toBe(5);
    expect(num.validation_error_rate).toBeCloseTo(5 / 505, 10);
    expect(num.drift.status).toBe("ok");
    expect(num.drift.test).toBe("ks");
    expect(cat.drift.status).toBe("drift");
    expect(cat.drift.test).toBe("chi2");
    expect(cat.drift.pValue).toBeLessThan(1e-10);
    // The score's definition (src/core/quality.ts): drift takes the stability fifth away; num's 1 % error rate its validity.
    expect(cat.score).toBeCloseTo(100 * (0.3 + 0.3 * cat.completeness + 0.2), 2);
    expect(num.score).toBeCloseTo(100 * (0.3 * 0.8 + 0.3 * num.completeness + 0.2 * 0.0099 + 0.2), 0);

    const stored = await sql<{ feature_name: string; drift_status: string; score: number }>(
      "select feature_name, drift_status, score from feature_quality where feature_name = any($1::text[]) order by feature_name",
      [[NUM, CAT]],
    );
    // The row older than the retention is gone; one row per feature from this run.
    expect(stored.map((r) => [r.feature_name, r.drift_status])).toEqual([
      [CAT, "drift"],
      [NUM, "ok"],
    ]);
  });

  it("folds each value once: a second run adds no updates and keeps the histograms", async () => {
    const rows = await runQualityJob(
      { postgres: pgConfig(), registry: async () => registry, metricsHub: undefined, log: () => undefined },
      now,
    );
    expect(rows!.find((r) => r.feature_name === NUM)!.updates).toBe(500);
    const hist = await sql<{ n: number }>(
      "select sum(nulls + (select coalesce(sum(value::float8), 0) from jsonb_each_text(bins)))::float8 as n from feature_value_histograms where feature_name = $1",
      [CAT],
    );
    expect(hist[0]!.n).toBe(600);
  });

  it("publishes the gauges to the MetricsHub: staleness, completeness, drift, score, and the ttl and tags the alerts use", async () => {
    const snap = await hubClient()!.snapshot();
    const gauge = (name: string, feature: string) =>
      snap.samples.find((s) => s.name === name && s.labels.feature_name === feature && s.labels.worker === "feature-ingest")?.value;
    expect(gauge("feature_staleness_seconds", NUM)).toBeGreaterThanOrEqual(59);
    expect(gauge("feature_stale_share", NUM)).toBeCloseTo(0.2, 10);
    expect(gauge("feature_drift_detected", CAT)).toBe(1);
    expect(gauge("feature_drift_detected", NUM)).toBe(0);
    expect(gauge("feature_ttl_seconds", NUM)).toBe(3600);
    expect(gauge("feature_update_frequency_seconds", CAT)).toBe(3600);
    expect(snap.samples.some((s) => s.name === "feature_tag_info" && s.labels.feature_name === NUM && s.labels.tag === "core")).toBe(true);
  });

  it("says why it did nothing without Postgres, and never throws when Postgres is down", async () => {
    const logs: { event: string }[] = [];
    expect(
      await runQualityJob(
        { postgres: undefined, registry: async () => registry, metricsHub: undefined, log: (r) => void logs.push(r) },
        now,
      ),
    ).toBeUndefined();
    expect(logs[0]!.event).toBe("quality_skipped");
    const down = { databaseUrl: "postgres://root@127.0.0.1:1/unreachable" };
    expect(
      await runQualityJob({ postgres: down, registry: async () => registry, metricsHub: undefined, log: (r) => void logs.push(r) }, now),
    ).toBeUndefined();
    expect(logs.at(-1)!.event).toBe("quality_run_failed");
  });
});
