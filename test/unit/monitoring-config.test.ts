// monitoring/ as code: promtool accepts the rules and the scrape config, and the committed dashboard is what the generator writes.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../tools/paths";
import { dashboardQueries, featureStoreDashboard, PANELS } from "../../tools/quality/dashboard";
import { hasBinary } from "../support/binaries";

const MONITORING = path.join(PROJECT_ROOT, "monitoring");
const hasPromtool = hasBinary("promtool", "the promtool checks");

describe.skipIf(!hasPromtool)("promtool", () => {
  it("check rules: monitoring/prometheus/alerts.yml", () => {
    const out = execFileSync("promtool", ["check", "rules", path.join(MONITORING, "prometheus", "alerts.yml")], { encoding: "utf8" });
    expect(out).toContain("SUCCESS: 9 rules found");
  });

  it("check config: monitoring/prometheus.yml (and the rule files it names)", () => {
    const out = execFileSync("promtool", ["check", "config", path.join(MONITORING, "prometheus.yml")], { encoding: "utf8" });
    expect(out).toContain("is valid prometheus config file syntax");
    expect(out).toContain("1 rule files found");
  });

  it("rejects a broken rule file (the check can fail)", () => {
    expect(() =>
      execFileSync("promtool", ["check", "rules", "/dev/stdin"], {
        input: "groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: sum(\n",
        stdio: ["pipe", "ignore", "ignore"],
      }),
    ).toThrow();
  });
});

describe("Grafana dashboard", () => {
  it("monitoring/grafana/feature-store.json is what `npm run monitoring -- generate` writes (as JSON; the formatter may wrap it)", () => {
    const committed = JSON.parse(readFileSync(path.join(MONITORING, "grafana", "feature-store.json"), "utf8")) as unknown;
    expect(committed).toEqual(featureStoreDashboard());
  });

  it("has the design's four panels first, then hit ratio, drift, dead letters and backlog, each with a query", () => {
    const titles = PANELS.map((p) => p.title);
    expect(titles.slice(0, 4)).toEqual([
      "Freshness: staleness per feature",
      "Completeness per feature",
      "Serving latency p95 by route",
      "Validation errors",
    ]);
    for (const t of ["Tier hit ratio", "Drift (PSI) per feature", "Dead letters", "Queue backlog"]) expect(titles).toContain(t);
    expect(dashboardQueries().some((q) => q.startsWith("histogram_quantile(0.95"))).toBe(true);
    const d = featureStoreDashboard();
    expect(d.panels).toHaveLength(PANELS.length);
  });
});
