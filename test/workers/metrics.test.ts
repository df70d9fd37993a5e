// GET /metrics in the Prometheus text exposition format: label values escaped, requests labelled by their route pattern.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createServingApp } from "../../src/serving/app";
import { buildServingContext } from "../../src/serving/context";
import { get, publishRegistry, registry } from "./support";

/** A comment, or `name{label="value",...} number` where a value escapes \, " and line feed (text format 0.0.4). */
const EXPOSITION_LINE = /^(# (HELP|TYPE) .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\[\\"n]|[^"\\\n])*",?)*\})? \S+)$/;

beforeAll(async () => {
  await publishRegistry();
});

describe("Prometheus label values", () => {
  it("escapes backslash, double quote and line feed, so every line still parses", () => {
    const context = buildServingContext({});
    context.metrics.observe('/odd"route\\with\nbreak', 200, 0.002);
    const text = context.metrics.render(context.store, 'r-"v\\1\n');
    expect(text).toContain('feature_serving_requests_total{route="/odd\\"route\\\\with\\nbreak",status="200"} 1');
    expect(text).toContain('feature_serving_duration_seconds_count{route="/odd\\"route\\\\with\\nbreak"} 1');
    expect(text).toContain('feature_registry_info{version="r-\\"v\\\\1\\n"} 1');
    for (const line of text.trimEnd().split("\n")) expect(line).toMatch(EXPOSITION_LINE);
  });

  it("GET /metrics escapes a registry version holding them", async () => {
    const reg = registry();
    const context = buildServingContext(
      { METRICS_AUTH: "public" },
      { registry: async () => reg, registryVersion: () => 'r-"quoted"\nnext' },
    );
    const res = await createServingApp(() => context).request("/metrics");
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('feature_registry_info{version="r-\\"quoted\\"\\nnext"} 1');
    for (const line of text.trimEnd().split("\n")) expect(line).toMatch(EXPOSITION_LINE);
  });
});

describe("request metrics", () => {
  it("label each request with its route pattern (hono/route's routePath), not the URL", async () => {
    expect((await get("/registry/features/user_profile_features:listening_hours_weekly")).status).toBe(200);
    expect((await get("/features/get")).status).toBe(405);
    const text = await (await SELF.fetch("http://fs/metrics")).text();
    // The totals of every isolate (the MetricsHub) carry the worker and colo labels as well.
    expect(text).toMatch(
      /^feature_serving_requests_total\{route="\/registry\/features\/:name",status="200",worker="feature-serving",colo="[A-Za-z]+"\} \d+$/m,
    );
    expect(text).toMatch(
      /^feature_serving_requests_total\{route="\/features\/get",status="405",worker="feature-serving",colo="[A-Za-z]+"\} \d+$/m,
    );
    expect(text).not.toContain('listening_hours_weekly"');
  });
});
