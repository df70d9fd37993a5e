// npm run quality's table: one row per feature, failing rows red (passing green) with colour, plain text without.
import { describe, expect, it } from "vitest";
import type { QualityPoint } from "../../src/monitoring/quality-read";
import { humanSeconds, renderQualityTable } from "../../tools/quality/quality-table";

const point = (name: string, failing: string[], drift: QualityPoint["drift"]["status"] = "ok"): QualityPoint => ({
  feature_name: name,
  entity_type: "user",
  computed_at: "2026-12-02T00:00:00.000Z",
  entities: 100,
  with_value: 100,
  staleness_seconds: 5400,
  stale_share: 0.1,
  completeness: 0.9,
  updates: 1000,
  rejects: 2,
  validation_error_rate: 0.002,
  drift: { status: drift, psi: drift === "ok" || drift === "drift" ? 0.31 : null, test: "ks", statistic: 0.2, p_value: 0.001, reasons: [] },
  score: 81.5,
  failing,
});

describe("quality table", () => {
  const answer = {
    computed_at: "2026-12-02T00:00:00.000Z",
    count: 2,
    failing: 1,
    features: [point("skip_rate_7d", ["completeness", "drift"], "drift"), point("country", [], "insufficient_data")],
  };

  it("colours failing rows red and passing rows green", () => {
    const lines = renderQualityTable(answer, true).split("\n");
    const RED = "\u001b[31m";
    const GREEN = "\u001b[32m";
    const RESET = "\u001b[0m";
    expect(lines[2]!.startsWith(`${RED}skip_rate_7d `)).toBe(true);
    expect(lines[2]!.endsWith(`completeness,drift${RESET}`)).toBe(true);
    expect(lines[3]!.startsWith(`${GREEN}country `)).toBe(true);
  });

  it("prints freshness, completeness, error rate, drift and score in plain text without colour", () => {
    const text = renderQualityTable(answer, false);
    expect(text).not.toContain("\u001b[");
    expect(text).toContain("1.5h");
    expect(text).toContain("90.0%");
    expect(text).toContain("0.20%");
    expect(text).toContain("drift psi 0.31");
    expect(text).toContain("insufficient data");
    expect(text).toContain("81.5");
    expect(text).toContain("2 features, 1 missing a target");
    expect(humanSeconds(null)).toBe("—");
    expect(humanSeconds(30)).toBe("30s");
    expect(humanSeconds(2 * 86_400)).toBe("2.0d");
  });
});
