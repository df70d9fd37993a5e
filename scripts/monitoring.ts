// npm run monitoring -- generate [--check]: writes monitoring/grafana/feature-store.json from tools/quality/dashboard.ts (--check: fail if it differs);
// npm run monitoring -- preview --out FILE.html [--prometheus URL] [--minutes N]: the dashboard's panels drawn from a Prometheus's data.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { EXIT_FAILED, EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { PROJECT_ROOT } from "../tools/paths";
import { featureStoreDashboard } from "../tools/quality/dashboard";
import { renderDashboardPreview } from "../tools/quality/dashboard-preview";

export const DASHBOARD_PATH = path.join(PROJECT_ROOT, "monitoring", "grafana", "feature-store.json");

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      check: { type: "boolean" },
      out: { type: "string" },
      prometheus: { type: "string", default: "http://127.0.0.1:9090" },
      minutes: { type: "string", default: "30" },
    },
  });
  if (positionals[0] === "preview") {
    const minutes = Number(values.minutes);
    if (!values.out || !Number.isFinite(minutes) || minutes <= 0)
      throw new UsageError("usage: npm run monitoring -- preview --out FILE.html [--prometheus URL] [--minutes N]");
    const to = Math.floor(Date.now() / 1000);
    const from = to - minutes * 60;
    writeFileSync(values.out, await renderDashboardPreview(values.prometheus!, from, to, Math.max(5, Math.round((to - from) / 120))));
    console.log(`wrote ${values.out}`);
    return EXIT_OK;
  }
  if (positionals[0] !== "generate") throw new UsageError("usage: npm run monitoring -- generate [--check] | preview --out FILE.html");
  const text = `${JSON.stringify(featureStoreDashboard(), null, 2)}\n`;
  if (values.check) {
    // Compared as JSON: the formatter (npm run format) may wrap the file differently.
    const same = JSON.stringify(JSON.parse(readFileSync(DASHBOARD_PATH, "utf8"))) === JSON.stringify(featureStoreDashboard());
    console.log(same ? "dashboard is up to date" : "monitoring/grafana/feature-store.json differs: run npm run monitoring -- generate");
    return same ? EXIT_OK : EXIT_FAILED;
  }
  writeFileSync(DASHBOARD_PATH, text);
  console.log(`wrote ${path.relative(PROJECT_ROOT, DASHBOARD_PATH)}`);
  return EXIT_OK;
}

runIfMain("monitoring", import.meta.url, main);
