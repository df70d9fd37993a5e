// npm run recommend: ranks candidate features by how well they predict a spine's label, through POST /recommendations/features.
//
//   npm run recommend -- --spine labels.csv [--label COL] [--candidates group,...] [--json]
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { FeatureStoreClient, type RecommendFeaturesResponse } from "../packages/client/src/index";
import { decodeCsvCell, MAX_RECOMMEND_SPINE_ROWS, parseSpineCsv, parseSpineJsonl, type Spine } from "../src/training";
import { EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { stackEndpoints } from "../tools/dev-stack";

const USAGE = `Usage: npm run recommend -- --spine FILE [--label COL] [--candidates group,...] [--json]

  --spine FILE         .csv (header first) or .jsonl, up to ${MAX_RECOMMEND_SPINE_ROWS} rows: event_timestamp, entity ids
                       (entity_id and/or join-key columns such as user_id, track_id) and the label column
  --label COL          the column to predict (default label)
  --candidates a,b     feature groups (or feature references); default every feature of the spine's entity types
  --json               print the API's answer as JSON

Scores are computed by the serving Worker on the spine's point-in-time training set: mutual information
(bits, plug-in, numerical features in quantile bins), AUC for binary labels (max(AUC, 1 - AUC), midranks),
coverage, and leakage warnings. SERVING_URL and FEATURE_STORE_API_KEY (admin scope), else the running \`npm run dev\` stack.`;

/** Spine rows as JSON objects; CSV text decoded (numbers, booleans) so numeric labels stay numbers. */
function spineObjects(spine: Spine): Record<string, unknown>[] {
  return spine.rows.map((row) => {
    if (!spine.textCells) return row.cells;
    const out: Record<string, unknown> = {};
    for (const [key, cell] of Object.entries(row.cells)) {
      // Ids stay text: user_1 is text anyway, and a numeric id must not lose leading zeros.
      const value = typeof cell === "string" && !key.endsWith("_id") ? decodeCsvCell(cell) : cell;
      if (value !== undefined && value !== "") out[key] = value;
    }
    return out;
  });
}

const fixed = (v: number | undefined, digits: number): string => (v === undefined ? "-" : v.toFixed(digits));

export function formatRanking(answer: RecommendFeaturesResponse): string {
  const head = `label ${answer.label}: ${answer.rows} rows, ${answer.binary ? `binary (positive ${JSON.stringify(answer.positive_label)})` : "multi-valued"}, H(label) = ${answer.label_entropy.toFixed(3)} bits`;
  const rows = answer.ranking.map((s, i) => [
    String(i + 1),
    s.feature,
    fixed(s.mutual_information, 4),
    fixed(s.auc, 3),
    `${(100 * s.coverage).toFixed(0)}%`,
    s.leakage ? "LEAK" : "",
    s.warnings.join("; "),
  ]);
  const header = ["#", "feature", "MI (bits)", "AUC", "coverage", "leakage", "warnings"];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : c >= 2 && c <= 4 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  const skipped = answer.skipped.map((s) => `skipped ${s.feature}: ${s.reason}`);
  return [head, "", line(header), ...rows.map(line), ...(skipped.length ? ["", ...skipped] : [])].join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      spine: { type: "string" },
      label: { type: "string" },
      candidates: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (!values.spine) throw new UsageError(`--spine is required\n${USAGE}`);
  const text = await readFile(values.spine, "utf8");
  const spine = values.spine.endsWith(".jsonl") ? parseSpineJsonl(text) : parseSpineCsv(text);
  if (spine.rows.length > MAX_RECOMMEND_SPINE_ROWS)
    throw new UsageError(`${values.spine} has ${spine.rows.length} rows; the API scores up to ${MAX_RECOMMEND_SPINE_ROWS}: sample it`);
  const candidates = values.candidates
    ?.split(",")
    .map((c) => c.trim())
    .filter(Boolean);
  const { servingUrl, apiKey } = stackEndpoints();
  const client = new FeatureStoreClient({ url: servingUrl, apiKey });
  const answer = await client.recommendFeatures({
    spine: spineObjects(spine),
    ...(values.label ? { label: values.label } : {}),
    ...(candidates?.length ? { candidates } : {}),
  });
  console.log(values.json ? JSON.stringify(answer, null, 2) : formatRanking(answer));
  return EXIT_OK;
}

runIfMain("recommend", import.meta.url, main);
