// The cron's quality job: compute every stored feature's quality in Postgres, keep it as a series, publish the gauges.
import { errorMessage } from "../core/errors";
import { withPostgresClient } from "../db/postgres";
import { LOCAL_COLO } from "../monitoring/metrics-reporter";
import { qualityReport } from "../monitoring/quality-gauges";
import { type FeatureQuality, runQuality } from "../monitoring/quality-run";
import type { IngestContext } from "./context";

/** Never throws: a failed quality run is logged and must not fail materialization beside it. */
export async function runQualityJob(
  deps: Pick<IngestContext, "postgres" | "registry" | "metricsHub" | "log">,
  now: number,
): Promise<FeatureQuality[] | undefined> {
  if (!deps.postgres) {
    deps.log({ event: "quality_skipped", reason: "DATABASE_URL missing" });
    return undefined;
  }
  const started = Date.now();
  try {
    const registry = await deps.registry();
    const pg = deps.postgres;
    const rows = await withPostgresClient(pg, (client) => runQuality(client, registry.snapshot.features, now));
    const drifting = rows.filter((r) => r.drift.status === "drift").map((r) => r.feature_name);
    deps.log({ event: "quality_run", features: rows.length, drifting, ms: Date.now() - started });
    if (deps.metricsHub) await deps.metricsHub.report(qualityReport(rows, now, LOCAL_COLO));
    return rows;
  } catch (err) {
    deps.log({ event: "quality_run_failed", level: "error", error: errorMessage(err) });
    return undefined;
  }
}
