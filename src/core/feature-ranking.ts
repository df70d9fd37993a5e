// Univariate predictive power of a feature for a label: quantile binning, mutual information, rank-based AUC.
//
// Estimators (README "Discovery and recommendation"):
// - mutualInformation: the plug-in (maximum-likelihood) estimate over the joint histogram, in
//   bits, I(X;Y) = sum p(x,y) log2(p(x,y) / (p(x) p(y))). It is biased upwards by about
//   (|X|-1)(|Y|-1) / (2 N ln 2) on independent data, which is why numeric features are cut into
//   at most DEFAULT_BINS quantile bins rather than kept as raw values.
// - auc: the Mann-Whitney statistic, P(score of a positive > score of a negative) + P(tie) / 2,
//   from midranks, so ties count one half exactly.

/** Quantile bins a numeric feature (or a numeric label with many values) is cut into. */
export const DEFAULT_BINS = 10;
/** The cell of a missing value: missingness is itself a category (it is often informative). */
export const MISSING_CELL = "∅";

/** 1-based ranks of `values` in ascending order; tied values share the mean of the ranks they span. */
export function midranks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Array<number>(values.length);
  for (let lo = 0; lo < order.length; ) {
    let hi = lo;
    while (hi + 1 < order.length && values[order[hi + 1]!] === values[order[lo]!]) hi++;
    const rank = (lo + hi) / 2 + 1;
    for (let k = lo; k <= hi; k++) ranks[order[k]!] = rank;
    lo = hi + 1;
  }
  return ranks;
}

/**
 * Area under the ROC curve of `scores` for `positive` (signed: below 0.5 means higher scores go
 * with negatives). Null without at least one positive and one negative.
 */
export function auc(scores: readonly number[], positive: readonly boolean[]): number | null {
  if (scores.length !== positive.length) throw new Error(`auc: ${scores.length} scores for ${positive.length} labels`);
  const ranks = midranks(scores);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < ranks.length; i++) {
    if (positive[i]) {
      positives++;
      rankSum += ranks[i]!;
    }
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Cut points of at most `bins` bins. With at most `bins` distinct values each is its own bin (a
 * flag or a small count keeps every level); else equal-frequency bins: the values at ranks
 * n*k/bins (k = 1..bins-1) of the sorted values, deduplicated, so tied values never straddle a cut.
 * A value v falls in the bin of the number of cuts <= v.
 */
export function quantileCuts(values: readonly number[], bins = DEFAULT_BINS): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`quantileCuts: bins must be a positive integer, got ${bins}`);
  const sorted = [...values].sort((a, b) => a - b);
  const distinct = sorted.filter((v, i) => i === 0 || v !== sorted[i - 1]);
  if (distinct.length <= bins) return distinct.slice(1);
  const cuts: number[] = [];
  for (let k = 1; k < bins; k++) {
    const v = sorted[Math.floor((sorted.length * k) / bins)]!;
    // A cut at the minimum would leave its bin empty: no value lies below it.
    if (v > sorted[0]! && v !== cuts[cuts.length - 1]) cuts.push(v);
  }
  return cuts;
}

/** The bin of `v`: how many cuts are <= v (0 .. cuts.length), by binary search. */
export function binOf(v: number, cuts: readonly number[]): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cuts[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Numbers as quantile-bin labels ("b0".."bN"), null as MISSING_CELL; cuts from the non-null values. */
export function quantileBins(values: readonly (number | null)[], bins = DEFAULT_BINS): string[] {
  const cuts = quantileCuts(
    values.filter((v): v is number => v !== null),
    bins,
  );
  return values.map((v) => (v === null ? MISSING_CELL : `b${binOf(v, cuts)}`));
}

function counts(cells: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of cells) m.set(c, (m.get(c) ?? 0) + 1);
  return m;
}

/** Shannon entropy in bits of the empirical distribution of `cells`. */
export function entropy(cells: readonly string[]): number {
  const n = cells.length;
  let h = 0;
  for (const c of counts(cells).values()) h -= (c / n) * Math.log2(c / n);
  return h;
}

/** Plug-in mutual information in bits between two discrete columns of equal length (0 for no rows). */
export function mutualInformation(x: readonly string[], y: readonly string[]): number {
  if (x.length !== y.length) throw new Error(`mutualInformation: columns of ${x.length} and ${y.length} cells`);
  const n = x.length;
  if (n === 0) return 0;
  const px = counts(x);
  const py = counts(y);
  // A separator no cell label contains keeps (x, y) pairs apart.
  const joint = counts(x.map((v, i) => `${v}\u0000${y[i]}`));
  let mi = 0;
  for (const [key, c] of joint) {
    const sep = key.indexOf("\u0000");
    const cx = px.get(key.slice(0, sep))!;
    const cy = py.get(key.slice(sep + 1))!;
    mi += (c / n) * Math.log2((c * n) / (cx * cy));
  }
  // Rounding can leave -1e-16 on independent columns; information is never negative.
  return Math.max(0, mi);
}
