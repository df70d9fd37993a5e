// Feature quality (pure): the data quality score and the targets a feature is held to (README "Monitoring").
import type { DriftStatus } from "./drift-detector";

/** The design's quality targets. */
export const QUALITY_TARGETS = {
  /** Completeness of features tagged `core`. */
  completeness: 0.95,
  /** Rejected ÷ (rejected + accepted) over the last day. */
  validationErrorRate: 0.001,
  /** Data quality score, 0–100. */
  score: 95,
} as const;

/** Weights of the score's components; they sum to 1. */
export const SCORE_WEIGHTS = { freshness: 0.3, completeness: 0.3, validity: 0.2, stability: 0.2 } as const;

/** Validation error rates at or above this count as fully invalid in the score (10× the target). */
export const VALIDITY_FLOOR_RATE = 0.01;

export interface QualityInputs {
  /** Share of stored values older than the feature's ttl. */
  staleShare: number;
  completeness: number;
  validationErrorRate: number;
  driftStatus: DriftStatus;
}

/**
 * Data quality score, 0–100:
 * 100 × (0.3 · (1 − stale share) + 0.3 · completeness + 0.2 · validity + 0.2 · stability), where
 * validity = 1 − min(1, error rate ÷ 1%) and stability = 0 when drift is detected, else 1
 * (no verdict counts as stable). A feature meeting every target scores above 95 only if it is
 * fresh, complete, nearly free of rejects and not drifting.
 */
export function qualityScore(q: QualityInputs): number {
  const clamp = (x: number) => Math.min(1, Math.max(0, Number.isFinite(x) ? x : 0));
  const validity = 1 - Math.min(1, q.validationErrorRate / VALIDITY_FLOOR_RATE);
  const stability = q.driftStatus === "drift" ? 0 : 1;
  const s =
    SCORE_WEIGHTS.freshness * (1 - clamp(q.staleShare)) +
    SCORE_WEIGHTS.completeness * clamp(q.completeness) +
    SCORE_WEIGHTS.validity * clamp(validity) +
    SCORE_WEIGHTS.stability * stability;
  return Math.round(s * 10_000) / 100;
}

/** Which targets a feature misses (the CLI colours these rows; the alerts fire on the same rules). */
export function failingChecks(
  q: QualityInputs & { score: number; stalenessSeconds: number | null; updateFrequencySeconds: number; ttlSeconds: number; core: boolean },
): string[] {
  const out: string[] = [];
  const limit = stalenessLimitSeconds(q.updateFrequencySeconds, q.ttlSeconds);
  if (q.stalenessSeconds !== null && q.stalenessSeconds > limit) out.push("stale");
  if (q.core && q.completeness < QUALITY_TARGETS.completeness) out.push("completeness");
  if (q.validationErrorRate > QUALITY_TARGETS.validationErrorRate) out.push("validation");
  if (q.driftStatus === "drift") out.push("drift");
  if (q.score < QUALITY_TARGETS.score) out.push("score");
  return out;
}

/** Staleness alert bound: 2× the update frequency, or 2× the ttl for realtime (stream) features. */
export function stalenessLimitSeconds(updateFrequencySeconds: number, ttlSeconds: number): number {
  return 2 * (updateFrequencySeconds > 0 ? updateFrequencySeconds : ttlSeconds);
}
