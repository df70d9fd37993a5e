// The drift statistics of src/core/drift.ts against values computed by hand or printed in statistical tables.
import { describe, expect, it } from "vitest";
import { FeatureDefinition } from "../../src/core/definitions";
import {
  binOf,
  chiSquareSurvival,
  chiSquareTwoSample,
  erfc,
  gammaQ,
  kolmogorovQ,
  ksPValue,
  ksStatistic,
  ksTwoSampleBinned,
  logGamma,
  psi,
  quantileEdges,
  twoProportionTest,
} from "../../src/core/drift";
import { DRIFT_DEFAULTS, detectDrift, thresholdsOf } from "../../src/core/drift-detector";
import { mulberry32 } from "../../src/core/random";

describe("PSI", () => {
  it("is Σ (p − q) ln(p / q): 0.2282 for 25/25/25/25 % against 10/20/30/40 %", () => {
    const ref = { a: 250_000, b: 250_000, c: 250_000, d: 250_000 };
    const cur = { a: 100_000, b: 200_000, c: 300_000, d: 400_000 };
    const exact = -0.15 * Math.log(0.4) - 0.05 * Math.log(0.8) + 0.05 * Math.log(1.2) + 0.15 * Math.log(1.6);
    expect(exact).toBeCloseTo(0.2282, 4);
    expect(psi(ref, cur)).toBeCloseTo(exact, 4);
  });

  it("is 0 for identical distributions and stays finite when a bin is new", () => {
    expect(psi({ a: 10, b: 30 }, { a: 10, b: 30 })).toBe(0);
    const withNew = psi({ a: 500, b: 500 }, { a: 400, b: 400, c: 200 });
    expect(Number.isFinite(withNew)).toBe(true);
    expect(withNew).toBeGreaterThan(0.5);
  });
});

describe("chi-square", () => {
  it("has the table's critical values: P(χ²₁ ≥ 3.841) = 0.05, P(χ²₂ ≥ 9.210) = 0.01, P(χ²₁₀ ≥ 18.307) = 0.05", () => {
    expect(chiSquareSurvival(3.841, 1)).toBeCloseTo(0.05, 4);
    expect(chiSquareSurvival(9.21, 2)).toBeCloseTo(0.01, 4);
    expect(chiSquareSurvival(18.307, 10)).toBeCloseTo(0.05, 4);
    expect(gammaQ(1, 2)).toBeCloseTo(Math.exp(-2), 12);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
  });

  it("tests a 2 × 2 table: [[10, 20], [20, 10]] gives χ² = 6.667, p = 0.0098", () => {
    const r = chiSquareTwoSample({ x: 10, y: 20 }, { x: 20, y: 10 });
    expect(r.statistic).toBeCloseTo(20 / 3, 6);
    expect(r.pValue).toBeCloseTo(0.00982, 4);
  });
});

describe("Kolmogorov–Smirnov", () => {
  it("has Kolmogorov's critical values: Q(1.358) = 0.05, Q(1.628) = 0.01, Q(0.5) = 0.9639", () => {
    expect(kolmogorovQ(1.358)).toBeCloseTo(0.05, 3);
    expect(kolmogorovQ(1.628)).toBeCloseTo(0.01, 3);
    expect(kolmogorovQ(0.5)).toBeCloseTo(0.9639, 4);
    // Both branches agree where they meet.
    expect(kolmogorovQ(1.1799)).toBeCloseTo(kolmogorovQ(1.1801), 3);
  });

  it("computes the exact two-sample D and its p-value", () => {
    expect(ksStatistic([1, 2, 3, 4], [3, 4, 5, 6])).toBeCloseTo(0.5, 12);
    expect(ksStatistic([1, 2, 3], [1, 2, 3])).toBe(0);
    // n = m = 1000, D = 0.0728 is the 1 % critical value.
    expect(ksPValue(0.0728, 1000, 1000)).toBeCloseTo(0.01, 2);
  });

  it("binned D is close below the exact D for a 0.5σ shift (20 quantile bins)", () => {
    const rand = mulberry32(7);
    const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const a = Array.from({ length: 4000 }, normal);
    const b = Array.from({ length: 4000 }, () => normal() + 0.5);
    const edges = quantileEdges(a, 20);
    const bin = (xs: number[]) => {
      const out = new Array<number>(edges.length + 1).fill(0);
      for (const x of xs) out[binOf(x, edges)]!++;
      return out;
    };
    const exact = ksStatistic(a, b);
    const binned = ksTwoSampleBinned(bin(a), bin(b));
    expect(binned.statistic).toBeLessThanOrEqual(exact + 1e-12);
    expect(binned.statistic).toBeGreaterThan(exact * 0.9);
    expect(binned.pValue).toBeLessThan(1e-6);
  });
});

describe("two-proportion test and erfc", () => {
  it("erfc(1) = 0.157299, erfc(0) = 1, erfc(−1) = 1.842701", () => {
    expect(erfc(1)).toBeCloseTo(0.157299, 6);
    expect(erfc(0)).toBeCloseTo(1, 6);
    expect(erfc(-1)).toBeCloseTo(1.842701, 6);
  });

  it("5 % against 10 % nulls in 1000 each: pooled 7.5 %, z = 0.05 / 0.011779 = 4.245, p = 2.19e-5", () => {
    const r = twoProportionTest(50, 1000, 100, 1000);
    expect(r.statistic).toBeCloseTo(4.245, 3);
    expect(r.pValue * 1e5).toBeCloseTo(2.19, 1);
  });
});

describe("bins", () => {
  it("bins by edges: below the first edge is 0, at an edge the bin above it", () => {
    expect(binOf(-1, [0, 1, 2])).toBe(0);
    expect(binOf(0, [0, 1, 2])).toBe(1);
    expect(binOf(1.5, [0, 1, 2])).toBe(2);
    expect(binOf(5, [0, 1, 2])).toBe(3);
    // Discrete data: repeated quantiles collapse into one edge.
    expect(quantileEdges([1, 1, 1, 1, 2], 4)).toEqual([1]);
    expect(quantileEdges([1, 2, 3, 4, 5, 6, 7, 8], 4)).toEqual([3, 5, 7]);
  });
});

describe("detectDrift", () => {
  const t = thresholdsOf(undefined);

  it("uses the defaults PSI > 0.2, KS p < 0.01 unless a feature sets its own", () => {
    expect(t).toMatchObject({ psi_threshold: 0.2, ks_p_value: 0.01, chi2_p_value: 0.01, min_samples: DRIFT_DEFAULTS.min_samples });
    expect(thresholdsOf({ psi_threshold: 0.1 }).psi_threshold).toBe(0.1);
  });

  it("gives no verdict without a reference or with too few values", () => {
    expect(detectDrift("numerical", undefined, { bins: { "0": 500 }, nulls: 0 }, t).status).toBe("no_reference");
    expect(detectDrift("numerical", { bins: { "0": 10 }, nulls: 0 }, { bins: { "0": 500 }, nulls: 0 }, t).status).toBe("insufficient_data");
    expect(detectDrift("embedding", undefined, { bins: {}, nulls: 0 }, t).status).toBe("not_monitored");
  });

  it("flags a category-mix change by chi-square, and rising nulls by the null-share test", () => {
    const ref = { bins: { a: 500, b: 300, c: 200 }, nulls: 0 };
    expect(detectDrift("categorical", ref, { bins: { a: 490, b: 310, c: 200 }, nulls: 0 }, t).status).toBe("ok");
    const mix = detectDrift("categorical", ref, { bins: { a: 400, b: 400, c: 200 }, nulls: 0 }, t);
    expect(mix.status).toBe("drift");
    expect(mix.test).toBe("chi2");
    const nulls = detectDrift("numerical", { bins: { "0": 950 }, nulls: 50 }, { bins: { "0": 850 }, nulls: 150 }, t);
    expect(nulls.status).toBe("drift");
    expect(nulls.reasons.join()).toContain("null share");
  });
});

describe("drift settings in features/*.yaml", () => {
  const base = {
    name: "x_rate",
    group: "g",
    entity_type: "user",
    feature_type: "numerical",
    computation_type: "stream",
    update_frequency: "realtime",
    retention_days: 1,
    ttl_seconds: 60,
    description: "d",
    owner: "o",
  } as const;

  it("accepts thresholds, a window and a reference (an earlier period or a pinned snapshot)", () => {
    expect(FeatureDefinition.safeParse({ ...base, drift: { psi_threshold: 0.1, window: "1d", reference: { offset: "7d" } } }).success).toBe(
      true,
    );
    expect(FeatureDefinition.safeParse({ ...base, drift: { reference: { snapshot: "training_2026" } } }).success).toBe(true);
  });

  it("rejects unknown keys, a p-value outside (0, 1), a bad duration and drift on embeddings", () => {
    const issues = (drift: unknown, extra: object = {}) => {
      const r = FeatureDefinition.safeParse({ ...base, ...extra, drift });
      return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
    };
    expect(issues({ psi: 0.2 })).toEqual(["drift"]);
    expect(issues({ ks_p_value: 1.5 })).toEqual(["drift.ks_p_value"]);
    expect(issues({ window: "yesterday" })).toEqual(["drift.window"]);
    expect(issues({ enabled: true }, { feature_type: "embedding", dimension: 4 })).toEqual(["drift"]);
  });
});
