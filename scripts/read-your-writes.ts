// npm run ryw: push-then-read trials with and without the write token on the running stack (README "Read-your-writes").
import { parseArgs } from "node:util";
import { EXIT_FAILED, EXIT_OK, runIfMain } from "../tools/cli";
import { stackEndpoints } from "../tools/dev-stack";
import { ProgressLine } from "../tools/progress";
import { renderTrials, runTrials } from "../tools/read-your-writes";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      trials: { type: "string", default: "1000" },
      lanes: { type: "string", default: "20" },
      feature: { type: "string", default: "listening_hours_weekly" },
    },
  });
  const opts = { ...stackEndpoints(), trials: Number(values.trials), lanes: Number(values.lanes), feature: values.feature! };
  const results = [];
  for (const withToken of [true, false]) {
    const progress = new ProgressLine(withToken ? "with token" : "without token");
    results.push(await runTrials({ ...opts, onProgress: (n) => progress.update(n, opts.trials, `${n} trials`) }, withToken));
    progress.finish();
  }
  console.log(renderTrials(results));
  const withToken = results[0]!;
  return withToken.stale === 0 && withToken.errors === 0 ? EXIT_OK : EXIT_FAILED;
}

runIfMain("npm run ryw failed", import.meta.url, main);
