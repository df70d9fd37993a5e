// The MetricsHub adds up what two serving isolates and an ingest isolate report, and one GET /metrics shows the totals.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { INGEST_FAMILIES, IngestMetrics } from "../../src/ingest/metrics";
import { metricsHubOf } from "../../src/monitoring/hub-client";
import { type MetricsHubClient, MetricsReporter } from "../../src/monitoring/metrics-reporter";
import { buildServingContext } from "../../src/serving/context";
import { publishRegistry } from "./support";

beforeAll(async () => {
  await publishRegistry();
});

const hub = () => metricsHubOf(env.METRICS_HUB)!;

/** The value of one exposition line matching `name{labels}` exactly (labels in any order). */
function seriesValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:\\.|[^"\\])*)"/g)].map((l) => [l[1], l[2]]));
    const want = Object.entries(labels);
    if (want.length === Object.keys(got).length && want.every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function scrape(): Promise<string> {
  const res = await SELF.fetch("http://fs/metrics");
  expect(res.status).toBe(200);
  return res.text();
}

/** Two serving "isolates": separate contexts, each with its own counters and reporter, both bound to the hub. */
function servingIsolate() {
  return buildServingContext({ METRICS_HUB: env.METRICS_HUB });
}

describe("MetricsHub", () => {
  it("adds up two serving isolates and an ingest isolate, labelled worker and colo", async () => {
    const route = `/hub-test/${crypto.randomUUID()}`;
    const a = servingIsolate();
    const b = servingIsolate();
    expect(a.metricsReporter.isolate).not.toBe(b.metricsReporter.isolate);
    a.metrics.observe(route, 200, 0.002);
    a.metrics.observe(route, 200, 0.004);
    b.metrics.observe(route, 200, 0.02);
    b.metrics.observe(route, 500, 0.3);
    await a.metricsReporter.flush(hub(), "local");
    await b.metricsReporter.flush(hub(), "AMS");

    const feature = `hub_test_${crypto.randomUUID().slice(0, 8).replaceAll("-", "_")}`;
    const ingest = new IngestMetrics();
    const ingestReporter = new MetricsReporter("feature-ingest", INGEST_FAMILIES, () => ingest.samples());
    ingest.batch({
      messages: 5,
      written: 3,
      deadLettered: { validation: 2, retries_exhausted: 0, parse: 0 },
      retried: 0,
      requeued: 0,
      postgresSkipped: 0,
      phaseMs: {},
      inserted: 3,
      latestChanged: 3,
      rejects: { [`${feature}/max_value`]: 2 },
      errors: {},
    });
    await ingestReporter.flush(hub(), "local");
    // A second isolate of the ingest Worker rejecting the same rule.
    const ingest2 = new IngestMetrics();
    ingest2.batch({
      messages: 1,
      written: 0,
      deadLettered: { validation: 1, retries_exhausted: 0, parse: 0 },
      retried: 0,
      requeued: 0,
      postgresSkipped: 0,
      phaseMs: {},
      inserted: 0,
      latestChanged: 0,
      rejects: { [`${feature}/max_value`]: 1 },
      errors: {},
    });
    await new MetricsReporter("feature-ingest", INGEST_FAMILIES, () => ingest2.samples()).flush(hub(), "local");

    await scrape();
    // This scrape includes the one before: the scraped isolate reports itself before reading the hub.
    const text = await scrape();
    const serving = (colo: string, status: string) =>
      seriesValue(text, "feature_serving_requests_total", { route, status, worker: "feature-serving", colo });
    expect(serving("local", "200")).toBe(2);
    expect(serving("AMS", "200")).toBe(1);
    expect(serving("AMS", "500")).toBe(1);
    const count = (colo: string) => seriesValue(text, "feature_serving_duration_seconds_count", { route, worker: "feature-serving", colo });
    expect(count("local")).toBe(2);
    const le = (colo: string, bound: string) =>
      seriesValue(text, "feature_serving_duration_seconds_bucket", { route, worker: "feature-serving", colo, le: bound });
    expect(le("local", "0.005")).toBe(2);
    expect(le("AMS", "0.025")).toBe(1);
    expect(le("AMS", "+Inf")).toBe(2);
    expect(
      seriesValue(text, "feature_validation_errors_total", {
        feature_name: feature,
        rule: "max_value",
        worker: "feature-ingest",
        colo: "local",
      }),
    ).toBe(3);
    expect(text).toMatch(
      /^feature_serving_requests_total\{route="\/metrics",status="200",worker="feature-serving",colo="[A-Za-z]+"\} \d+$/m,
    );
    expect(text).toContain("feature_metrics_hub_up 1");
  });

  it("sends only what grew since the last accepted report, and resends what a failed report carried", async () => {
    const route = `/hub-delta/${crypto.randomUUID()}`;
    const ctx = servingIsolate();
    const real = hub();
    let failNext = true;
    const flaky: MetricsHubClient = {
      report: async (r) => {
        if (failNext) {
          failNext = false;
          throw new Error("hub unavailable");
        }
        return real.report(r);
      },
      snapshot: () => real.snapshot(),
    };
    ctx.metrics.observe(route, 200, 0.001);
    await expect(ctx.metricsReporter.flush(flaky, "local")).rejects.toThrow("hub unavailable");
    ctx.metrics.observe(route, 200, 0.001);
    await ctx.metricsReporter.flush(flaky, "local");
    await ctx.metricsReporter.flush(flaky, "local");
    const labels = { route, status: "200", worker: "feature-serving", colo: "local" };
    expect(seriesValue(await scrape(), "feature_serving_requests_total", labels)).toBe(2);
  });

  it("reports at most once per interval from the request path, in the background", async () => {
    const ctx = servingIsolate();
    const reports: unknown[] = [];
    const counting: MetricsHubClient = { report: async (r) => void reports.push(r), snapshot: () => hub().snapshot() };
    const waited: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) ctx.metricsReporter.maybeFlush(counting, "local", (p) => waited.push(p));
    await Promise.all(waited);
    expect(reports).toHaveLength(1);
    expect(waited).toHaveLength(1);
  });

  it("keeps gauges per isolate: a breaker open in one isolate shows as open (max), cache sizes add up (sum)", async () => {
    const tier = `t${crypto.randomUUID().slice(0, 6)}`;
    const family = [
      { name: "feature_tier_circuit_open", type: "gauge" as const, help: "x", aggregate: "max" as const },
      { name: "feature_memory_cache_entries", type: "gauge" as const, help: "x" },
    ];
    const gauge = (open: number, entries: number) => () => [
      { family: "feature_tier_circuit_open", name: "feature_tier_circuit_open", labels: { tier }, value: open },
      { family: "feature_memory_cache_entries", name: "feature_memory_cache_entries", labels: { tier }, value: entries },
    ];
    await new MetricsReporter("feature-serving", family, gauge(1, 10)).flush(hub(), "XYZ");
    await new MetricsReporter("feature-serving", family, gauge(0, 5)).flush(hub(), "XYZ");
    const text = await scrape();
    const labels = { tier, worker: "feature-serving", colo: "XYZ" };
    expect(seriesValue(text, "feature_tier_circuit_open", labels)).toBe(1);
    expect(seriesValue(text, "feature_memory_cache_entries", labels)).toBe(15);
  });
});
