// npm run quality [-- --json] [--failing]: per-feature quality from the serving Worker's GET /quality (the dev stack by default).
import { parseArgs } from "node:util";
import { EXIT_FAILED, EXIT_OK, runIfMain } from "../tools/cli";
import { readDevStack } from "../tools/dev-stack";
import { type QualityAnswer, renderQualityTable } from "../tools/quality/quality-table";

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { json: { type: "boolean" }, failing: { type: "boolean" } } });
  const stack = readDevStack();
  const servingUrl = process.env.SERVING_URL ?? stack?.servingUrl;
  const key = process.env.FEATURE_STORE_API_KEY ?? stack?.devApiKey;
  if (!servingUrl || !key) throw new Error("no running stack: start `npm run dev` or set SERVING_URL and FEATURE_STORE_API_KEY");
  const res = await fetch(`${servingUrl}/quality${values.failing ? "?failing=true" : ""}`, { headers: { authorization: `Bearer ${key}` } });
  if (res.status !== 200) throw new Error(`GET /quality answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const answer = (await res.json()) as QualityAnswer;
  if (values.json) console.log(JSON.stringify(answer, null, 2));
  else console.log(renderQualityTable(answer, Boolean(process.stdout.isTTY) && !process.env.NO_COLOR));
  // Like a check: a failing feature makes the exit status 1, for scripts and CI.
  return answer.failing > 0 ? EXIT_FAILED : EXIT_OK;
}

runIfMain("quality", import.meta.url, main);
