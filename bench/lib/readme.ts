// --update-readme: replaces the body of README.md's "## Performance" section up to its first "###"
// subsection (the hand-written analysis below it, e.g. "Against Feast", is kept), and nothing else.
import { readFileSync, writeFileSync } from "node:fs";
import { type BenchReport, gcArrivalShare } from "./report";

const HEADING = "## Performance";

export function performanceSection(report: BenchReport, table: string): string {
  const day = report.started_at.slice(0, 10);
  return `
Reproduce with \`npm run bench\` (about ${Math.round(report.duration_s / 60)} minutes) or \`npm run bench -- --quick\`
(at most 2 minutes). The bench starts its own stack on plain workerd (Miniflare, never \`wrangler dev\`),
loads ${Number((report.config.entities as { total: number }).total).toLocaleString("en-US")} entities × ${report.config.features_per_vector} features and measures every scenario against
baselines taken in the same run; \`bench/README.md\` explains the scenarios, how to read them and the
local-runtime limits behind some numbers. Published anchors, measured elsewhere and so only context:
Feast's Go server with Redis p99 1.78 ms (1 entity × 50 features) and 22.2 ms (100 × 50), tuned Feast
Python p99 4.61 ms, Chalk p95 20.8 ms. Absolute times depend on the machine (runs of this bench have
seen bare-hono's p50 anywhere from 0.31 to 0.78 ms on different two-core VMs, some with CPU steal), so
compare ratios to the baselines. Latest full run (${day}):

${table.trim()}

Where a target is missed, the same run says why. batch-100 sits on the local KV simulator's bulk get
(\`kv-bulk-get-100-floor\`: one Durable Object reading the 100 keys one after another);
\`batch-100-memory-kv\` is the same request through the same serving code with the KV rows held in
the isolate, i.e. what our code costs without the simulator. mixed-zipf's tail is V8 garbage
collection: every Worker and the KV, Durable Object and Queue simulators share one workerd thread,
and a full collection in any isolate (the serving Worker's or a KV simulator's) stops every request in
flight${mixedGc(report)}. Its p95 moves with where those pauses and the VM's CPU steal fall: earlier
full runs on 2026-11-28 with the same data gave 5.4, 8.7, 8.8, 8.9, 14.2 and 16.4 ms. The "GC stalls" column
counts pauses of 50 ms or more per scenario. l0-hit against bare-hono is the price of the read path itself
(auth, validation, registry, one L0 lookup per entity, metadata).
How to profile a scenario (\`--profile\`) and what profiling found: \`bench/README.md\`.
`;
}

/** mixed-zipf's GC pauses in this run (all isolates), for the prose; empty without a GC trace. */
function mixedGc(report: BenchReport): string {
  const mixed = report.scenarios.find((s) => s.name === "mixed-zipf");
  const gc = mixed?.gc;
  const share = mixed && gcArrivalShare(mixed);
  if (!mixed || !gc || share === undefined) return "";
  return (
    ` (in this run, during mixed-zipf's 60 s: ${gc.mark_compacts} full collections, ${gc.stalls} pauses of 50 ms or more` +
    ` totalling ${gc.stall_total_ms.toFixed(0)} ms, the longest ${gc.pause_max_ms.toFixed(0)} ms; ${(share * 100).toFixed(1)}% of its requests` +
    ` arrived during them, which is where its p99 (${mixed.p99_ms?.toFixed(0)} ms) sits)`
  );
}

export function updateReadme(readmePath: string, report: BenchReport, table: string): void {
  const text = readFileSync(readmePath, "utf8");
  const start = text.indexOf(`\n${HEADING}\n`);
  if (start < 0) throw new Error(`README.md has no "${HEADING}" section`);
  const bodyStart = start + HEADING.length + 2;
  const nextSection = text.indexOf("\n## ", bodyStart);
  const sub = text.indexOf("\n### ", bodyStart);
  const next = sub >= 0 && (nextSection < 0 || sub < nextSection) ? sub : nextSection;
  const end = next < 0 ? text.length : next + 1;
  // A ### inside the generated part would end it there on the next update, leaving this run's rest behind.
  if (/^### /m.test(table)) throw new Error("the generated table must not hold a ### heading (it ends the generated part)");
  const body = performanceSection(report, table);
  writeFileSync(readmePath, `${text.slice(0, bodyStart)}${body}${next < 0 ? "" : "\n"}${text.slice(end)}`);
}
