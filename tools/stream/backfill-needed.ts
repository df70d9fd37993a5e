// Which aggregation features a registry plan leaves with empty or stale tiles: new ones, and changed specs (`registry apply` says so).
import type { FeatureDefinition } from "../../src/core/definitions";
import type { RegistryPlan } from "../registry/plan";

export interface BackfillNeed {
  feature: string;
  reason: string;
}

/**
 * A created aggregation feature starts with empty tiles; a changed aggregation block starts new tiles
 * (a changed filter, function or tile) or reads further back than its tiles reach (a longer window); a
 * feature turned into an aggregation has no tiles yet. Each is served from the events folded from now
 * on until `npm run stream -- backfill --feature NAME` replays the stored ones.
 */
export function backfillsNeeded(plan: RegistryPlan, desired: readonly FeatureDefinition[]): BackfillNeed[] {
  const byName = new Map(desired.map((f) => [f.name, f]));
  const out: BackfillNeed[] = [];
  for (const c of plan.features.created)
    if (byName.get(c.name)?.computation_type === "aggregation") out.push({ feature: c.name, reason: "new aggregation feature" });
  for (const c of plan.features.updated) {
    if (byName.get(c.name)?.computation_type !== "aggregation") continue;
    const fields = c.changes.map((f) => f.field).filter((f) => f === "aggregation" || f === "computation_type");
    if (fields.length > 0) out.push({ feature: c.name, reason: `changed ${fields.join(" and ")}` });
  }
  return out;
}

/** The lines `registry plan/apply` prints, one per feature, with the command to run. */
export function renderBackfillsNeeded(needs: readonly BackfillNeed[]): string {
  if (needs.length === 0) return "";
  return [
    `Backfill needed for ${needs.length} aggregation feature${needs.length === 1 ? "" : "s"} (served from new events only until then):`,
    ...needs.map((n) => `  npm run stream -- backfill --feature ${n.feature}    # ${n.reason}`),
  ].join("\n");
}
