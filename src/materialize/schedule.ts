// Which batch features the cron should materialize now: those whose update_frequency has elapsed.
import { type FeatureDefinition, frequencySeconds } from "../core/definitions";

/**
 * A feature counts as due this much before its frequency has fully elapsed, so a run that ended a
 * few seconds after its cron tick does not slip a whole cron interval (15 min) the next time.
 */
export const DUE_SLACK_MS = 60_000;

export interface DueDecision {
  feature: string;
  due: boolean;
  /** Epoch ms of the last successful run's interval end, or null when it never ran. */
  lastSuccess: number | null;
  reason: string;
}

/** Every batch feature with why it is or is not due at `now`. */
export function planScheduledRuns(
  features: readonly FeatureDefinition[],
  lastSuccess: ReadonlyMap<string, number>,
  now: number,
): DueDecision[] {
  return features
    .filter((f) => f.computation_type === "batch" && f.source_query)
    .map((f) => {
      const last = lastSuccess.get(f.name);
      if (last === undefined) return { feature: f.name, due: true, lastSuccess: null, reason: "never materialized" };
      const everyMs = frequencySeconds(f.update_frequency) * 1000;
      const nextAt = last + everyMs - DUE_SLACK_MS;
      return now >= nextAt
        ? {
            feature: f.name,
            due: true,
            lastSuccess: last,
            reason: `last run ended ${new Date(last).toISOString()}, every ${f.update_frequency}`,
          }
        : { feature: f.name, due: false, lastSuccess: last, reason: `next due at ${new Date(nextAt + DUE_SLACK_MS).toISOString()}` };
    });
}
