// npm run drift -- evaluate [--trials N] [--seed S] [--json]: the detector's confusion table on seeded scenarios;
// npm run drift -- snapshot --name NAME --from ISO --to ISO [--feature F]... [--source TEXT]: pin a drift reference.
import { parseArgs } from "node:util";
import { EXIT_FAILED, EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { requireDatabaseUrl } from "../tools/dev-stack";
import { withPgClient } from "../tools/postgres";
import { confusionTable, evaluateDrift } from "../tools/quality/drift-evaluate";
import { pinDriftReference } from "../tools/quality/drift-snapshot";

const USAGE = [
  "usage: npm run drift -- evaluate [--trials N] [--seed S] [--json]",
  "       npm run drift -- snapshot --name NAME --from ISO --to ISO [--feature F]... [--source TEXT]",
].join("\n");

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      trials: { type: "string", default: "200" },
      seed: { type: "string", default: "20261202" },
      json: { type: "boolean" },
      name: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      feature: { type: "string", multiple: true },
      source: { type: "string" },
    },
  });
  const [command] = positionals;
  if (command === "evaluate") {
    const trials = Number(values.trials);
    const seed = Number(values.seed);
    if (!Number.isInteger(trials) || trials < 1) throw new UsageError("--trials must be a positive integer");
    if (!Number.isInteger(seed)) throw new UsageError("--seed must be an integer");
    const e = evaluateDrift(trials, seed);
    console.log(values.json ? JSON.stringify(e, null, 2) : confusionTable(e));
    return e.meetsTargets ? EXIT_OK : EXIT_FAILED;
  }
  if (command === "snapshot") {
    const fromMs = Date.parse(values.from ?? "");
    const toMs = Date.parse(values.to ?? "");
    if (!values.name || !/^[a-z][a-z0-9_]*$/.test(values.name))
      throw new UsageError("--name must be snake_case (the features' drift.reference.snapshot)");
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs)
      throw new UsageError("--from and --to must be ISO times, from before to");
    const pinned = await withPgClient(requireDatabaseUrl(), (db) =>
      pinDriftReference(db, {
        name: values.name!,
        fromMs,
        toMs,
        features: values.feature ?? [],
        source: values.source ?? `period ${values.from}..${values.to}`,
      }),
    );
    if (values.json) console.log(JSON.stringify(pinned, null, 2));
    else for (const p of pinned) console.log(`${values.name}: ${p.feature} (${p.values} values)`);
    if (pinned.length === 0) console.error("no histograms in that period: nothing pinned");
    return pinned.length ? EXIT_OK : EXIT_FAILED;
  }
  throw new UsageError(USAGE);
}

runIfMain("drift", import.meta.url, main);
