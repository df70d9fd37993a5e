// npm run drift -- evaluate [--trials N] [--seed S] [--json]: the drift detector's confusion table on seeded scenarios.
import { parseArgs } from "node:util";
import { EXIT_FAILED, EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { confusionTable, evaluateDrift } from "../tools/quality/drift-evaluate";

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { trials: { type: "string", default: "200" }, seed: { type: "string", default: "20261202" }, json: { type: "boolean" } },
  });
  const [command] = positionals;
  if (command !== "evaluate") throw new UsageError("usage: npm run drift -- evaluate [--trials N] [--seed S] [--json]");
  const trials = Number(values.trials);
  const seed = Number(values.seed);
  if (!Number.isInteger(trials) || trials < 1) throw new UsageError("--trials must be a positive integer");
  if (!Number.isInteger(seed)) throw new UsageError("--seed must be an integer");
  const e = evaluateDrift(trials, seed);
  console.log(values.json ? JSON.stringify(e, null, 2) : confusionTable(e));
  return e.meetsTargets ? EXIT_OK : EXIT_FAILED;
}

runIfMain("drift", import.meta.url, main);
