// npm run demo:labels: writes a labelled spine from the demo catalog (will the listener skip the track?) for `npm run recommend`.
//
//   npm run demo:labels -- --out labels.csv [--rows 2000]
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { encodeCsvRecord } from "../src/training";
import { EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { DEFAULT_LABEL_ROWS, LABEL_COLUMN, skipLabels } from "../tools/demo/labels";
import { requireDatabaseUrl } from "../tools/dev-stack";

const USAGE = `Usage: npm run demo:labels -- --out FILE.csv [--rows N]

Writes user_id, track_id, event_timestamp, ${LABEL_COLUMN}: every k-th play of the demo history (default ${DEFAULT_LABEL_ROWS} rows),
read one second before the play starts, labelled 1 when the play was skipped.
DATABASE_URL: the Postgres holding the demo tables (else the running \`npm run dev\` stack).`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { out: { type: "string" }, rows: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (!values.out) throw new UsageError(`--out is required\n${USAGE}`);
  const rows = values.rows === undefined ? DEFAULT_LABEL_ROWS : Number(values.rows);
  if (!Number.isInteger(rows) || rows < 2) throw new UsageError(`--rows must be an integer of at least 2, got ${values.rows}`);
  const labels = await skipLabels(requireDatabaseUrl(), rows);
  if (labels.length === 0) throw new Error("no listening events after the first 7 days: seed the demo catalog first (npm run demo:seed)");
  const header = ["user_id", "track_id", "event_timestamp", LABEL_COLUMN] as const;
  const records = [encodeCsvRecord(header), ...labels.map((r) => encodeCsvRecord(header.map((h) => r[h])))];
  await writeFile(values.out, records.join(""));
  const skipped = labels.filter((r) => r.will_skip === 1).length;
  console.log(`${values.out}: ${labels.length} rows, ${skipped} skipped (${((100 * skipped) / labels.length).toFixed(1)}%)`);
  return EXIT_OK;
}

runIfMain("demo:labels", import.meta.url, main);
