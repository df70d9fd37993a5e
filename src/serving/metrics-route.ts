// GET /metrics: this isolate reports first, then the hub's totals of every isolate of both Workers are rendered.
import { expired, withDeadline } from "../core/deadline";
import { errorMessage } from "../core/errors";
import { log } from "../core/log";
import { renderExposition } from "../monitoring/exposition";
import type { ServingContext } from "./context";

/** A scrape waits this long for the hub, then answers with this isolate's series alone (and says so). */
export const METRICS_HUB_TIMEOUT_MS = 2_000;

const HUB_UP = { name: "feature_metrics_hub_up", type: "gauge" as const, help: "1 when these totals come from the MetricsHub." };

export async function renderMetrics(deps: ServingContext, colo: string): Promise<string> {
  const hub = deps.metricsHub;
  const local = () => deps.metrics.render(deps.store, deps.registryVersion());
  if (!hub) return local();
  try {
    const snapshot = await withDeadline(
      (async () => {
        await deps.metricsReporter.flush(hub, colo);
        return hub.snapshot();
      })(),
      METRICS_HUB_TIMEOUT_MS,
      expired("metrics hub", METRICS_HUB_TIMEOUT_MS),
    );
    return renderExposition(
      [...snapshot.families, HUB_UP],
      [...snapshot.samples, { family: HUB_UP.name, name: HUB_UP.name, labels: {}, value: 1 }],
    );
  } catch (err) {
    // A scrape still gets something: this isolate's series, and a 0 an alert can watch.
    log("warn", "metrics_hub_unavailable", { error: errorMessage(err) });
    return `${local()}# HELP ${HUB_UP.name} ${HUB_UP.help}\n# TYPE ${HUB_UP.name} gauge\n${HUB_UP.name} 0\n`;
  }
}
