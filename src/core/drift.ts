// Drift statistics over binned counts (pure): PSI, two-sample Kolmogorov–Smirnov, chi-square and a two-proportion test.

/** Counts per bin or category; the same keys in both windows mean the same bin. */
export type Counts = Readonly<Record<string, number>>;

/** A bin seen in one window only still counts: PSI and chi-square add this to every count (Laplace smoothing). */
export const SMOOTHING_COUNT = 0.5;

const total = (c: Counts) => Object.values(c).reduce((a, b) => a + b, 0);
const keysOf = (a: Counts, b: Counts) => [...new Set([...Object.keys(a), ...Object.keys(b)])];

/**
 * Population Stability Index: Σ (p_i − q_i) · ln(p_i / q_i) over the bins of both windows, with
 * each count smoothed by SMOOTHING_COUNT so an empty bin stays finite. 0 when identical; the usual
 * reading is < 0.1 stable, 0.1–0.2 moderate, > 0.2 drift.
 */
export function psi(reference: Counts, current: Counts): number {
  const keys = keysOf(reference, current);
  if (keys.length === 0) return 0;
  const nr = total(reference) + SMOOTHING_COUNT * keys.length;
  const nc = total(current) + SMOOTHING_COUNT * keys.length;
  let sum = 0;
  for (const k of keys) {
    const p = ((current[k] ?? 0) + SMOOTHING_COUNT) / nc;
    const q = ((reference[k] ?? 0) + SMOOTHING_COUNT) / nr;
    sum += (p - q) * Math.log(p / q);
  }
  return sum;
}

export interface TestResult {
  statistic: number;
  pValue: number;
}

/**
 * Kolmogorov's limiting distribution Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}: the chance that a
 * KS statistic this large happens under the null hypothesis.
 */
export function kolmogorovQ(lambda: number): number {
  if (lambda < 1.18) {
    // The alternating series converges slowly for small λ; use the theta-function form instead.
    if (lambda <= 0) return 1;
    const x = Math.exp((-Math.PI * Math.PI) / (8 * lambda * lambda));
    const s = x + x ** 9 + x ** 25 + x ** 49;
    return 1 - (Math.sqrt(2 * Math.PI) / lambda) * s;
  }
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = (k % 2 === 1 ? 2 : -2) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.min(1, Math.max(0, sum));
}

/**
 * Two-sample KS test from two histograms over the same ordered bins: D = max |F_ref − F_cur| at the
 * bin edges (a lower bound of the exact D, so the test errs towards "no drift"), p from Kolmogorov's
 * distribution with Stephens' small-sample correction (Numerical Recipes' kstwo).
 */
export function ksTwoSampleBinned(reference: readonly number[], current: readonly number[]): TestResult {
  const n1 = reference.reduce((a, b) => a + b, 0);
  const n2 = current.reduce((a, b) => a + b, 0);
  if (n1 === 0 || n2 === 0) return { statistic: 0, pValue: 1 };
  let c1 = 0;
  let c2 = 0;
  let d = 0;
  const bins = Math.max(reference.length, current.length);
  for (let i = 0; i < bins; i++) {
    c1 += reference[i] ?? 0;
    c2 += current[i] ?? 0;
    d = Math.max(d, Math.abs(c1 / n1 - c2 / n2));
  }
  return { statistic: d, pValue: ksPValue(d, n1, n2) };
}

/** The two-sample KS p-value of statistic d for sample sizes n1 and n2. */
export function ksPValue(d: number, n1: number, n2: number): number {
  const ne = Math.sqrt((n1 * n2) / (n1 + n2));
  return kolmogorovQ((ne + 0.12 + 0.11 / ne) * d);
}

/** Exact two-sample KS statistic of raw samples (for tests and for binning checks). */
export function ksStatistic(a: readonly number[], b: readonly number[]): number {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= v) i++;
    while (j < y.length && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** ln Γ(x) (Lanczos, g = 7, n = 9), accurate to ~15 digits for x > 0. */
export function logGamma(x: number): number {
  const g = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = g[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += g[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) (series below a+1, continued fraction above: Numerical Recipes gammq). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    for (let n = 1; n < 1000; n++) {
      del *= x / (a + n);
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(-x + a * Math.log(x) - logGamma(a)));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(-x + a * Math.log(x) - logGamma(a)) * h);
}

/** P(χ²_df ≥ x). */
export function chiSquareSurvival(x: number, df: number): number {
  return df <= 0 ? 1 : gammaQ(df / 2, x / 2);
}

/**
 * Chi-square test of homogeneity for two windows' category counts (a 2 × k table). Categories
 * with no count in either window are dropped; the degrees of freedom are k − 1.
 */
export function chiSquareTwoSample(reference: Counts, current: Counts): TestResult {
  const keys = keysOf(reference, current).filter((k) => (reference[k] ?? 0) + (current[k] ?? 0) > 0);
  const n1 = total(reference);
  const n2 = total(current);
  if (keys.length < 2 || n1 === 0 || n2 === 0) return { statistic: 0, pValue: 1 };
  const n = n1 + n2;
  let stat = 0;
  for (const k of keys) {
    const col = (reference[k] ?? 0) + (current[k] ?? 0);
    const e1 = (n1 * col) / n;
    const e2 = (n2 * col) / n;
    stat += ((reference[k] ?? 0) - e1) ** 2 / e1 + ((current[k] ?? 0) - e2) ** 2 / e2;
  }
  return { statistic: stat, pValue: chiSquareSurvival(stat, keys.length - 1) };
}

/** Complementary error function (Numerical Recipes' erfcc Chebyshev fit, relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Two-sided two-proportion z-test: did the share (e.g. of nulls) change between the windows? */
export function twoProportionTest(k1: number, n1: number, k2: number, n2: number): TestResult {
  if (n1 === 0 || n2 === 0) return { statistic: 0, pValue: 1 };
  const pooled = (k1 + k2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return { statistic: 0, pValue: 1 };
  const z = (k2 / n2 - k1 / n1) / se;
  return { statistic: z, pValue: erfc(Math.abs(z) / Math.SQRT2) };
}

/** Bin edges at the quantiles of a sample: `bins` bins of about equal mass (duplicates dropped for discrete data). */
export function quantileEdges(values: readonly number[], bins: number): number[] {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const v = sorted[Math.min(sorted.length - 1, Math.floor((i * sorted.length) / bins))]!;
    if (edges.length === 0 || v > edges[edges.length - 1]!) edges.push(v);
  }
  return edges;
}

/** The bin of a value: i where edges[i-1] <= v < edges[i] (0 below the first edge, edges.length at or above the last). */
export function binOf(value: number, edges: readonly number[]): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value < edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
