// The drift verdict of one feature: which tests run for its type, their thresholds (per feature, with defaults), and the decision.
import type { DriftSettings, FeatureType } from "./definitions";
import { type Counts, chiSquareTwoSample, ksTwoSampleBinned, psi, twoProportionTest } from "./drift";

export const DRIFT_DEFAULTS = {
  psi_threshold: 0.2,
  ks_p_value: 0.01,
  chi2_p_value: 0.01,
  null_p_value: 0.01,
  window: "1d",
  min_samples: 200,
} as const;

/** One window's binned values: numerical bins are "0".."k" (src/core/drift.ts binOf), categories by name. */
export interface Histogram {
  bins: Counts;
  nulls: number;
}

export type DriftStatus = "ok" | "drift" | "insufficient_data" | "no_reference" | "not_monitored";

export interface DriftResult {
  status: DriftStatus;
  psi: number | null;
  /** "ks" for numerical features, "chi2" for categorical and arrays. */
  test: "ks" | "chi2" | null;
  statistic: number | null;
  pValue: number | null;
  /** Two-proportion test of the null share. */
  nullPValue: number | null;
  referenceCount: number;
  currentCount: number;
  /** Which thresholds were crossed, e.g. "psi 0.31 > 0.2". */
  reasons: string[];
}

export type DriftThresholds = Required<Omit<DriftSettings, "enabled" | "reference" | "window">>;

export function thresholdsOf(settings: DriftSettings | undefined): DriftThresholds {
  return {
    psi_threshold: settings?.psi_threshold ?? DRIFT_DEFAULTS.psi_threshold,
    ks_p_value: settings?.ks_p_value ?? DRIFT_DEFAULTS.ks_p_value,
    chi2_p_value: settings?.chi2_p_value ?? DRIFT_DEFAULTS.chi2_p_value,
    null_p_value: settings?.null_p_value ?? DRIFT_DEFAULTS.null_p_value,
    min_samples: settings?.min_samples ?? DRIFT_DEFAULTS.min_samples,
  };
}

/** Whether a feature type has a drift test (embeddings have none). */
export function driftMonitored(type: FeatureType, settings: DriftSettings | undefined): boolean {
  return type !== "embedding" && settings?.enabled !== false;
}

const sumOf = (c: Counts) => Object.values(c).reduce((a, b) => a + b, 0);

/** Numerical bins as an ordered array (missing bins are 0). */
function ordered(c: Counts): number[] {
  const idx = Object.keys(c).map(Number);
  const max = idx.length ? Math.max(...idx) : -1;
  return Array.from({ length: max + 1 }, (_, i) => c[String(i)] ?? 0);
}

/**
 * PSI over the bins plus a "null" bin, then KS (numerical) or chi-square (categorical, array), then
 * the null-share test: drift when any crosses its threshold. No verdict below min_samples.
 */
export function detectDrift(type: FeatureType, reference: Histogram | undefined, current: Histogram, t: DriftThresholds): DriftResult {
  const currentCount = sumOf(current.bins) + current.nulls;
  const base: DriftResult = {
    status: "ok",
    psi: null,
    test: null,
    statistic: null,
    pValue: null,
    nullPValue: null,
    referenceCount: reference ? sumOf(reference.bins) + reference.nulls : 0,
    currentCount,
    reasons: [],
  };
  if (type === "embedding") return { ...base, status: "not_monitored" };
  if (!reference || base.referenceCount === 0) return { ...base, status: "no_reference" };
  if (base.referenceCount < t.min_samples || currentCount < t.min_samples) return { ...base, status: "insufficient_data" };
  const withNulls = (h: Histogram): Counts => ({ ...h.bins, "\u0000null": h.nulls });
  const out: DriftResult = { ...base, psi: psi(withNulls(reference), withNulls(current)) };
  if (out.psi! > t.psi_threshold) out.reasons.push(`psi ${out.psi!.toFixed(3)} > ${t.psi_threshold}`);
  if (type === "numerical") {
    const ks = ksTwoSampleBinned(ordered(reference.bins), ordered(current.bins));
    Object.assign(out, { test: "ks", statistic: ks.statistic, pValue: ks.pValue });
    if (ks.pValue < t.ks_p_value) out.reasons.push(`ks p ${ks.pValue.toExponential(2)} < ${t.ks_p_value}`);
  } else {
    const chi = chiSquareTwoSample(reference.bins, current.bins);
    Object.assign(out, { test: "chi2", statistic: chi.statistic, pValue: chi.pValue });
    if (chi.pValue < t.chi2_p_value) out.reasons.push(`chi2 p ${chi.pValue.toExponential(2)} < ${t.chi2_p_value}`);
  }
  const nulls = twoProportionTest(reference.nulls, base.referenceCount, current.nulls, currentCount);
  out.nullPValue = nulls.pValue;
  if (nulls.pValue < t.null_p_value) out.reasons.push(`null share p ${nulls.pValue.toExponential(2)} < ${t.null_p_value}`);
  out.status = out.reasons.length ? "drift" : "ok";
  return out;
}
