// The run's report: JSON (bench/results/<timestamp>.json) and a Markdown table beside it, with ratios
// to the baselines and the design's targets checked.
import { writeFileSync } from "node:fs";
import { GC_STALL_MS } from "./gc-trace";
import { type PeerComparison, renderPeerMarkdown } from "./peer-report";
import type { ScenarioResult } from "./stats";

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory_gb: number;
  os: string;
  node: string;
  workerd: string;
  miniflare: string;
  wrangler: string;
  postgres: string;
  redis: string | null;
  load_average_at_start: number[];
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

export interface BenchReport {
  started_at: string;
  finished_at: string;
  duration_s: number;
  machine: MachineInfo;
  config: Record<string, unknown>;
  baselines: ScenarioResult[];
  scenarios: ScenarioResult[];
  targets: TargetCheck[];
  diagnostics: Record<string, unknown>;
  /** `--peer URL`: the side-by-side comparison (bench/scenarios/peer.ts). */
  peer?: PeerComparison;
}

const fmt = (n: number | null | undefined, digits = 2) => (n === null || n === undefined ? "–" : n.toFixed(digits));
const pct = (n: number | undefined) => (n === undefined ? "–" : `${(n * 100).toFixed(1)}%`);

function find(report: Pick<BenchReport, "baselines" | "scenarios">, name: string): ScenarioResult | undefined {
  return [...report.baselines, ...report.scenarios].find((s) => s.name === name);
}

/** A scenario that ran to the end and has latencies to compare. */
const measurable = (s: ScenarioResult | undefined) => s && !s.skipped && !s.failed && s.p50_ms !== null;
/** What a target row says when its scenario has nothing to compare. */
const notMeasured = (s: ScenarioResult | undefined) => s?.skipped ?? s?.failed ?? "not run";

export function checkTargets(report: Pick<BenchReport, "baselines" | "scenarios">): TargetCheck[] {
  const out: TargetCheck[] = [];
  const mixed = find(report, "mixed-zipf");
  out.push(
    measurable(mixed)
      ? {
          target: "mixed-zipf p95 < 10 ms with ≥ 90% of values from L0 or L1",
          measured:
            `p95 ${fmt(mixed!.p95_ms)} ms, L0+L1 ${pct(mixed!.tiers?.l0_l1)}, ${mixed!.errors} errors in ${mixed!.requests} requests` +
            depthNote(mixed!) +
            (mixed!.cpu?.by_command?.workerd !== undefined
              ? `; workerd (every Worker and the KV/DO simulators) used ${fmt(mixed!.cpu.by_command.workerd)} cores meanwhile`
              : "") +
            (mixed!.cpu?.steal_cores !== undefined ? `, CPU steal ${fmt(mixed!.cpu.steal_cores)} cores` : "") +
            gcNote(mixed!),
          met: mixed!.p95_ms! < 10 && (mixed!.tiers?.l0_l1 ?? 0) >= 0.9 && mixed!.errors <= mixed!.requests * 0.001,
        }
      : {
          target: "mixed-zipf p95 < 10 ms with ≥ 90% of values from L0 or L1",
          measured: notMeasured(mixed),
          met: null,
        },
  );
  const bare = find(report, "bare-hono");
  const l0 = find(report, "l0-hit");
  out.push(
    measurable(bare) && measurable(l0)
      ? {
          target: "l0-hit p50 ≤ 1.5 × bare-hono p50",
          measured: `${fmt(l0!.p50_ms, 3)} vs ${fmt(bare!.p50_ms, 3)} ms = ${fmt(l0!.p50_ms! / bare!.p50_ms!)}×`,
          met: l0!.p50_ms! <= 1.5 * bare!.p50_ms!,
        }
      : { target: "l0-hit p50 ≤ 1.5 × bare-hono p50", measured: "not run", met: null },
  );
  const b100 = find(report, "batch-100");
  out.push(
    measurable(b100)
      ? {
          target: "batch-100 p99 < 25 ms",
          measured: `p99 ${fmt(b100!.p99_ms)} ms, p50 ${fmt(b100!.p50_ms)} ms${floorNote(report)}${gcNote(b100!)}`,
          met: b100!.p99_ms! < 25,
        }
      : { target: "batch-100 p99 < 25 ms", measured: notMeasured(b100), met: null },
  );
  const st = find(report, "stampede");
  const maxReads = st?.extra?.max_backend_reads_per_key as number | undefined;
  out.push(
    st && !st.failed && maxReads !== undefined
      ? {
          target: "stampede: 1 backend read per cold key per isolate",
          measured: `reads per key ${JSON.stringify(st.extra?.backend_reads_per_key)} (${st.extra?.concurrent_requests_per_key} concurrent each), ${st.errors} failed requests`,
          met: maxReads === 1 && st.errors === 0,
        }
      : { target: "stampede: 1 backend read per cold key per isolate", measured: st?.failed ?? "not run", met: null },
  );
  const fr = find(report, "freshness");
  out.push(
    measurable(fr)
      ? {
          target: "freshness p95 < 2 s (stream features)",
          measured: `p95 ${fmt(fr!.p95_ms! / 1000, 3)} s, p50 ${fmt(fr!.p50_ms! / 1000, 3)} s`,
          met: fr!.p95_ms! < 2000 && fr!.errors === 0,
        }
      : { target: "freshness p95 < 2 s (stream features)", measured: notMeasured(fr), met: null },
  );
  out.push(...streamTargets(report), ...tailTargets(report));
  return out;
}

/**
 * Issue 18's targets, each a ratio to a baseline of the same run (the peer's are in peer-report.ts).
 * A missed one carries the figures that say why: the runtime floors, GC pauses, Postgres's own time.
 */
function tailTargets(report: Pick<BenchReport, "baselines" | "scenarios">): TargetCheck[] {
  const check = (
    target: string,
    a: ScenarioResult | undefined,
    b: ScenarioResult | undefined,
    f: () => TargetCheck["measured"],
    met: () => boolean,
  ): TargetCheck =>
    measurable(a) && measurable(b)
      ? { target, measured: f(), met: met() }
      : { target, measured: measurable(a) ? notMeasured(b) : notMeasured(a), met: null };
  const x = (a: number | null, b: number | null) => `${fmt(a)} vs ${fmt(b)} ms = ${fmt(a! / b!)}×`;
  const bare = find(report, "bare-hono");
  const bareBatch = find(report, "bare-hono-batch-100");
  const b100 = find(report, "batch-100");
  const mem = find(report, "batch-100-memory-kv");
  const mixed = find(report, "mixed-zipf");
  const l0 = find(report, "l0-hit");
  const out: TargetCheck[] = [
    check(
      "batch-100 p99 ≤ 3 × bare-hono-batch-100 p99",
      b100,
      bareBatch,
      () => `${x(b100!.p99_ms, bareBatch!.p99_ms)}${floorNote(report)}${gcNote(b100!)}`,
      () => b100!.p99_ms! <= 3 * bareBatch!.p99_ms!,
    ),
    check(
      "batch-100-memory-kv p50 ≤ 1.5 × bare-hono-batch-100 p50",
      mem,
      bareBatch,
      () => x(mem!.p50_ms, bareBatch!.p50_ms),
      () => mem!.p50_ms! <= 1.5 * bareBatch!.p50_ms!,
    ),
    check(
      "mixed-zipf p95 ≤ 3 × bare-hono p95 and p99 ≤ 10 × bare-hono p99",
      mixed,
      bare,
      () => `p95 ${x(mixed!.p95_ms, bare!.p95_ms)}, p99 ${x(mixed!.p99_ms, bare!.p99_ms)}${gcNote(mixed!)}`,
      () => mixed!.p95_ms! <= 3 * bare!.p95_ms! && mixed!.p99_ms! <= 10 * bare!.p99_ms!,
    ),
    check(
      "l0-hit p50 ≤ 1.2 × bare-hono p50",
      l0,
      bare,
      () => x(l0!.p50_ms, bare!.p50_ms),
      () => l0!.p50_ms! <= 1.2 * bare!.p50_ms!,
    ),
  ];
  const bl = find(report, "bulk-load");
  const blTarget = "bulk-load of 100,000 × 50 through push → Queue → every tier ≤ 35 s, 0 lost, 0 dead letters";
  const e = bl?.extra as Record<string, number | string | null> | undefined;
  out.push(
    bl && !bl.skipped && !bl.failed && e
      ? {
          target: blTarget,
          measured:
            `${e.entities === 100_000 ? "" : `${Number(e.entities).toLocaleString("en-US")} entities in ${e.all_tiers_s} s, projected `}` +
            `${e.projected_100k_s} s for 100,000 (${e.values_per_s} values/s), ${e.lost} lost, ${e.dead_letters} dead letters, ${bl.errors} errors; ` +
            `Postgres alone inserting the same rows (INSERT … SELECT, no client or Worker) ${e.postgres_floor_100k_s} s per 100,000; ` +
            `consumer per batch of ${e.consumer_batches ? Math.round(Number(e.entities) / Number(e.consumer_batches)) : "–"} entities: ` +
            `${e.consumer_batch_mean_ms} ms (keys ${e.consumer_keys_mean_ms}, Postgres ${e.consumer_postgres_mean_ms}, Redis ${e.consumer_redis_mean_ms}, KV ${e.consumer_kv_mean_ms} ms)`,
          met: Number(e.projected_100k_s) <= 35 && e.lost === 0 && e.dead_letters === 0 && bl.errors === 0,
        }
      : { target: blTarget, measured: notMeasured(bl), met: null },
  );
  return out;
}

/** The streaming-aggregation targets (issue 14; bench/scenarios/stream.ts). */
function streamTargets(report: Pick<BenchReport, "baselines" | "scenarios">): TargetCheck[] {
  const ok = (s: ScenarioResult | undefined) => s && !s.skipped && !s.failed;
  const notRun = (target: string, s: ScenarioResult | undefined): TargetCheck => ({
    target,
    measured: notMeasured(s),
    met: null,
  });
  const out: TargetCheck[] = [];
  const fr = find(report, "stream-freshness");
  const frTarget = "stream-freshness: event accepted (202) → visible in /features/get, p95 < 250 ms";
  out.push(
    ok(fr) && fr!.p95_ms !== null
      ? {
          target: frTarget,
          measured: `p95 ${fmt(fr!.p95_ms)} ms, p50 ${fmt(fr!.p50_ms)} ms, ${fr!.errors} not visible in ${fr!.requests}`,
          met: fr!.p95_ms! < 250 && fr!.errors === 0,
        }
      : notRun(frTarget, fr),
  );
  const si = find(report, "stream-ingest");
  const siTarget = "stream-ingest: ≥ 2,000 events/s folded end to end (Zipf(1.1) tracks), 0 lost";
  out.push(
    ok(si) && si!.rps !== null
      ? {
          target: siTarget,
          measured: `${si!.rps} events/s, ${si!.extra?.lost} lost of ${si!.extra?.events}`,
          met: si!.rps! >= 2000 && si!.extra?.lost === 0,
        }
      : notRun(siTarget, si),
  );
  const ar = find(report, "aggregate-read");
  const floor = find(report, "do-get-floor");
  const arTarget = "aggregate-read p50 ≤ 2 × do-get-floor p50 (10 aggregation features, 7d/1h and 1h/1m)";
  out.push(
    ok(ar) && ok(floor) && ar!.p50_ms !== null && floor!.p50_ms !== null
      ? {
          target: arTarget,
          measured: `${fmt(ar!.p50_ms, 3)} vs ${fmt(floor!.p50_ms, 3)} ms = ${fmt(ar!.p50_ms! / floor!.p50_ms!)}×, ${ar!.errors} errors`,
          met: ar!.p50_ms! <= 2 * floor!.p50_ms! && ar!.errors === 0,
        }
      : notRun(arTarget, ok(ar) ? floor : ar),
  );
  return out;
}

/** mixed-zipf's p95 split by the deepest tier each request needed (extra.latency_by_deepest_tier). */
function depthNote(mixed: ScenarioResult): string {
  type Depth = { requests: number; p95_ms: number | null };
  const d = mixed.extra?.latency_by_deepest_tier as { l0_l1?: Depth; l2_or_below?: Depth } | undefined;
  if (!d?.l0_l1 || !d.l2_or_below) return "";
  const share = (n: number) => `${((n * 100) / Math.max(1, d.l0_l1!.requests + d.l2_or_below!.requests)).toFixed(1)}%`;
  return (
    `; requests answered wholly from L0/L1 (${share(d.l0_l1.requests)}) p95 ${fmt(d.l0_l1.p95_ms)} ms, ` +
    `requests that fell through to Redis or Postgres (${share(d.l2_or_below.requests)}) p95 ${fmt(d.l2_or_below.p95_ms)} ms`
  );
}

/**
 * V8 GC pauses on the workerd thread during the scenario. For an open-model scenario, the requests
 * that arrived during a pause of GC_STALL_MS or more waited behind it: their share, set against
 * 1% and 5%, says whether the p99 or the p95 sits in GC stalls rather than in a tier.
 */
function gcNote(s: ScenarioResult): string {
  const gc = s.gc;
  if (!gc || gc.collections === 0) return "";
  let note = `; V8 GC on the workerd thread (all isolates): ${gc.mark_compacts} full collections, ${gc.stalls} pauses ≥ ${GC_STALL_MS} ms totalling ${fmt(gc.stall_total_ms, 0)} ms, longest ${fmt(gc.pause_max_ms, 0)} ms (${gc.longest})`;
  const share = gcArrivalShare(s);
  if (share !== undefined) note += `; requests that arrived during those pauses ≈ ${pct(share)} of all`;
  return note;
}

/** For an open-model scenario: the share of its requests that arrived during GC pauses ≥ GC_STALL_MS. */
export function gcArrivalShare(s: ScenarioResult): number | undefined {
  const rate = s.extra?.achieved_rate as number | undefined;
  if (!s.gc || !rate || !s.requests) return undefined;
  return Math.min(1, ((s.gc.stall_total_ms / 1000) * rate) / s.requests);
}

/** The runtime floors under batch-100, and the same batch over in-memory KV, from the same run. */
function floorNote(report: Pick<BenchReport, "baselines" | "scenarios">): string {
  const kv = find(report, "kv-bulk-get-100-floor");
  const bare = find(report, "bare-hono-batch-100");
  const mem = find(report, "batch-100-memory-kv");
  const parts: string[] = [];
  if (kv?.p99_ms && bare?.p99_ms)
    parts.push(
      `floors in the same runtime: KV bulk get of 100 p50 ${fmt(kv.p50_ms)} / p99 ${fmt(kv.p99_ms)} ms, bare Hono batch p50 ${fmt(bare.p50_ms)} / p99 ${fmt(bare.p99_ms)} ms`,
    );
  if (mem?.p99_ms) parts.push(`our code with KV in memory (batch-100-memory-kv) p50 ${fmt(mem.p50_ms)} / p99 ${fmt(mem.p99_ms)} ms`);
  return parts.length ? ` (${parts.join("; ")})` : "";
}

function tiersCell(s: ScenarioResult): string {
  if (!s.tiers) return "";
  const parts = Object.entries(s.tiers.shares)
    .filter(([, v]) => v >= 0.001)
    .map(([t, v]) => `${t} ${(v * 100).toFixed(1)}%`);
  return parts.join(", ");
}

/** Cores used by processes outside the bench while the scenario ran; flagged when it may have skewed it. */
const BUSY_OTHER_CORES = 0.25;
function otherCpu(s: ScenarioResult): string {
  if (!s.cpu) return "";
  return s.cpu.other_cores >= BUSY_OTHER_CORES ? `⚠ ${s.cpu.other_cores.toFixed(2)}` : s.cpu.other_cores.toFixed(2);
}

function gcCell(s: ScenarioResult): string {
  if (!s.gc) return "";
  return s.gc.stalls ? `${s.gc.stalls} (longest ${s.gc.pause_max_ms.toFixed(0)} ms)` : "0";
}

function statusCell(s: ScenarioResult): string {
  if (s.skipped) return `skipped: ${s.skipped}`;
  if (s.failed) return `failed: ${s.failed}`;
  return "";
}

/** The Markdown table (and target checklist) for the report. */
export function renderMarkdown(report: BenchReport): string {
  const bare = find(report, "bare-hono");
  const redis = find(report, "redis-hmget");
  const ratio = (s: ScenarioResult, base: ScenarioResult | undefined, key: "p50_ms" | "p99_ms") =>
    base && s[key] !== null && base[key] ? `${(s[key]! / base[key]!).toFixed(1)}×` : "–";
  const lines: string[] = [];
  lines.push(
    `Run ${report.started_at} (${report.config.mode}), ${report.duration_s.toFixed(0)} s; ${report.machine.cpu}, ${report.machine.cores} cores; ` +
      `Node ${report.machine.node}, workerd ${report.machine.workerd}, Postgres ${report.machine.postgres}, Redis ${report.machine.redis ?? "off"}.` +
      (Object.keys((report.config.serving_vars as Record<string, string> | undefined) ?? {}).length
        ? ` Serving Worker vars (BENCH_SERVING_VARS): ${JSON.stringify(report.config.serving_vars)}.`
        : ""),
    "",
    "| scenario | p50 ms | p95 ms | p99 ms | rps | errors | p50 vs bare | p99 vs bare | served by (share of values) | other CPU | GC stalls |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
  );
  for (const s of [...report.baselines, ...report.scenarios]) {
    const status = statusCell(s);
    if (status) {
      lines.push(`| ${s.name} | – | – | – | – | ${s.errors} | – | – | ${status} | | |`);
      continue;
    }
    const vsBare =
      s.name === "redis-hmget" || s.name === "ingest" || s.name === "freshness" || s.name === "training-set"
        ? "–"
        : ratio(s, bare, "p50_ms");
    const vsBare99 = vsBare === "–" ? "–" : ratio(s, bare, "p99_ms");
    let served = tiersCell(s);
    if (s.name === "redis-hit" && redis?.p50_ms) served += `${served ? "; " : ""}p50 ${(s.p50_ms! / redis.p50_ms).toFixed(1)}× redis-hmget`;
    if (s.name === "stampede") served += `${served ? "; " : ""}backend reads per key ${JSON.stringify(s.extra?.backend_reads_per_key)}`;
    if (s.name === "ingest")
      served = `${s.extra?.messages_in_postgres}/${s.extra?.messages} messages in Postgres after ${s.extra?.push_to_all_in_postgres_s} s; rps = messages/s; latencies = push of 100`;
    if (s.name === "freshness")
      served = `push→visible; push→Durable Object p50 ${fmt(s.extra?.push_to_durable_object_p50_ms as number)} / p95 ${fmt(s.extra?.push_to_durable_object_p95_ms as number)} ms`;
    if (s.name === "mixed-zipf")
      served += `; L0+L1 ${pct(s.tiers?.l0_l1)}; ${s.extra?.achieved_rate}/${s.extra?.target_rate} req/s achieved`;
    if (s.name === "training-set" || s.name === "peer") served = s.notes ?? "";
    const rps = s.rps === null ? "–" : s.rps.toFixed(s.rps >= 100 ? 0 : 1);
    lines.push(
      `| ${s.name} | ${fmt(s.p50_ms)} | ${fmt(s.p95_ms)} | ${fmt(s.p99_ms)} | ${rps} | ${s.errors} | ${vsBare} | ${vsBare99} | ${served} | ${otherCpu(s)} | ${gcCell(s)} |`,
    );
  }
  lines.push(
    "",
    'Latencies are client-side (Node, keep-alive) in ms; "vs bare" divides by the bare Hono Worker on the same workerd in the same run. ' +
      '"other CPU" is cores used by processes outside the bench (its Workers, Postgres and Redis count as the bench) while the scenario ran; ⚠ marks ≥ 0.25. ' +
      `"GC stalls" is V8 garbage-collection pauses of ${GC_STALL_MS} ms or more on the workerd thread (any isolate) while the scenario ran (count, longest), from workerd's --trace-gc.`,
    "",
    "| target | measured | met |",
    "|---|---|---|",
  );
  for (const t of report.targets)
    lines.push(`| ${t.target} | ${t.measured} | ${t.met === null ? "not measured" : t.met ? "yes" : "**no**"} |`);
  if (report.peer) lines.push("", renderPeerMarkdown(report.peer).trimEnd());
  return `${lines.join("\n")}\n`;
}

export function writeReport(report: BenchReport, jsonPath: string, mdPath: string): string {
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  const md = renderMarkdown(report);
  writeFileSync(
    mdPath,
    `# Bench ${report.started_at}\n\n${md}\nConfig and machine: \`${jsonPath.split("/").pop()}\` (not committed); reproduce with \`npm run bench${report.config.mode === "quick" ? " -- --quick" : ""}\`.\n`,
  );
  return md;
}
