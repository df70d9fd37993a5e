// npm run bench [-- --quick] [-- --update-readme]: starts its own stack on plain workerd, loads the bench
// data, runs every scenario against same-run baselines and writes bench/results/<timestamp>.{json,md}.
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { errorMessage } from "../src/core/errors";
import { EXIT_USAGE, runIfMain } from "../tools/cli";
import { PROJECT_ROOT } from "../tools/paths";
import { type BenchConfig, FULL, QUICK, totalEntities } from "./lib/config";
import { CpuSampler } from "./lib/cpu-sampler";
import { benchRegistry, featureNames, Universe, VECTORS, type VectorName } from "./lib/dataset";
import { HttpClient } from "./lib/http";
import { type LoadEntity, loadDurableObjects, loadKv, loadPostgres, loadRedis } from "./lib/load";
import { onlyPeer, type PeerOptions, parsePeerOptions } from "./lib/peer-config";
import { withPeerGroup } from "./lib/peer-dataset";
import { peerTargets } from "./lib/peer-report";
import { freePort } from "./lib/ports";
import {
  formatHeapSummary,
  formatSummary,
  heapProfileBytes,
  summarizeHeapProfile,
  summarizeProfile,
  WorkerProfiler,
  writeProfile,
} from "./lib/profiler";
import { updateReadme } from "./lib/readme";
import { type BenchReport, checkTargets, type MachineInfo, writeReport } from "./lib/report";
import { BenchSetupError, type BenchStack, servingVars, startStack } from "./lib/stack";
import { failed, type ScenarioResult } from "./lib/stats";
import { bareBatch, doFloor, kvFloors, memoryKvBatch, redisHmget, upstashFloor } from "./scenarios/baselines";
import { bulkLoad } from "./scenarios/bulk-load";
import { sdkL0Hit } from "./scenarios/client";
import type { BenchContext, TierSets } from "./scenarios/context";
import { hedgedBatch } from "./scenarios/hedged";
import { freshness, ingest } from "./scenarios/ingest";
import { peerComparison } from "./scenarios/peer";
import { bareAndL0, batch, doHit, kvHit, mixedZipf, postgresBackfill, redisHit, stampede } from "./scenarios/serving";
import { aggregateRead, streamFreshness, streamHotObject, streamIngest } from "./scenarios/stream";
import { trainingSet } from "./scenarios/training";

const RESULTS_DIR = path.join(PROJECT_ROOT, "bench", "results");
/** Extra entities per single-tier set, read before measuring (sockets, JIT, connection pools). */
const TIER_WARMUP_ENTITIES = 50;
const L0_ENTITIES = 50;
const MIN_NODE_MAJOR = 22;
/** The shell's code for a process ended by SIGINT (128 + 2). */
const EXIT_INTERRUPTED = 130;
/** After Ctrl-C, cleanup starts this much later (see onSignal). */
const SIGNAL_SETTLE_MS = 200;
/** Other processes using this much CPU during a scenario make its numbers suspect (flagged). */
export const BUSY_OTHER_CORES = 0.25;

const USAGE = `Usage: npm run bench [-- --quick] [-- --update-readme]

  --quick          ${totalEntities(QUICK).toLocaleString("en-US")} entities and short phases (≤ 2 minutes)
  --only a,b       run only these scenarios (names as in the table; the data is loaded in full)
  --update-readme  write the table into the "## Performance" section of README.md
  --profile        CPU-profile the scenario's Worker during each scenario: bench/results/<timestamp>-<scenario>.cpuprofile
                   and the top functions by self time (the profiler slows the Worker: never compare such a run)
  --peer URL       also run the shapes 1×50 and 100×50 at C = 1 and 8 against URL (a server speaking Feast's
                   POST /get-online-features, e.g. ../shared/peer-feast) and ours, interleaved; ratios in the report.
                   With --only peer nothing else runs and the bench's own data is not loaded
  --peer-duration S   measured seconds per cell and server (default 20, --quick 3)
  --peer-pid NAME=PID record the CPU of that process and its children per run (repeatable; e.g. feast=$(cat run/feast-serve.pid))
  --peer-bearer KEY   send "authorization: Bearer KEY" to the peer
  --ours-processes N  serve ours from N workerd processes on one port (SO_REUSEPORT), as the peer's N workers
                      (needs --only peer and a C compiler; each process has its own L0 and KV, loaded alike)
  --heap-profile   sample the allocations of the scenario's Worker that outlive a young-generation GC (what the
                   full collections behind "GC stalls" must clean up): bench/results/<timestamp>-<scenario>.heapprofile
                   and the top allocation sites
  --alloc-profile  as --heap-profile, but every allocation (garbage included), and the bytes allocated per request
                   served by the Worker (its feature_serving_requests_total) in the scenario's extra.alloc_bytes_per_request

Needs Postgres (DATABASE_URL, else 127.0.0.1:5432; the bench creates and drops its own database) and
Redis (REDIS_URL, else 127.0.0.1:6379; optional: without it the redis-* scenarios are skipped).
Results: bench/results/<timestamp>.json and .md. See bench/README.md.`;

const started = Date.now();
/** Set by the first SIGINT/SIGTERM: what fails afterwards is the interrupt, not worth reporting. */
let interrupted = false;
function step(message: string): void {
  process.stdout.write(`  [${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
}

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function machineInfo(stack: BenchStack): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model ?? "?",
    cores: os.cpus().length,
    memory_gb: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()}`,
    node: process.versions.node,
    workerd: version("workerd"),
    miniflare: version("miniflare"),
    wrangler: version("wrangler"),
    postgres: stack.postgresVersion,
    redis: stack.redisVersion,
    load_average_at_start: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function tierSets(cfg: BenchConfig): TierSets {
  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
  return {
    l0: ids("user_l0_", L0_ENTITIES),
    kv: ids("user_kv_", cfg.requests.kv + TIER_WARMUP_ENTITIES),
    durableObject: ids("user_do_", cfg.requests.durableObject + TIER_WARMUP_ENTITIES),
    durableObjectFloor: ids("user_dof_", cfg.requests.durableObject + TIER_WARMUP_ENTITIES),
    redis: ids("user_rd_", cfg.requests.redis + TIER_WARMUP_ENTITIES),
    postgres: ids("user_pg_", cfg.requests.postgres + TIER_WARMUP_ENTITIES),
    cold: ids("user_cold_", cfg.stampede.coldKeys),
  };
}

const asLoad = (id: string, n: number, vector: VectorName): LoadEntity => ({ type: VECTORS[vector].entityType, id, n, vector });

async function loadData(ctx: BenchContext): Promise<Record<string, unknown>> {
  const { cfg, stack, universe, sets, loadedAt } = ctx;
  const F = cfg.featuresPerVector;
  const timings: Record<string, unknown> = {};
  const timed = async (name: string, fn: () => Promise<unknown>) => {
    const t = Date.now();
    const result = await fn();
    timings[`${name}_s`] = Math.round((Date.now() - t) / 100) / 10;
    step(`loaded ${name} in ${timings[`${name}_s`]} s`);
    return result;
  };
  const kvHot = Math.min(cfg.kvHotEntities, universe.size);
  const fromRank = (i: number): LoadEntity => {
    const e = universe.byRank(i + 1);
    return { type: e.type, id: e.id, n: e.n, vector: e.type === "user" ? "userBatch" : e.type === "track" ? "trackBatch" : "artistBatch" };
  };
  const kvOnly = [...sets.l0, ...sets.kv];
  step(
    `loading: Postgres ${universe.size.toLocaleString("en-US")} entities × ${F} features, KV ${kvHot.toLocaleString("en-US")} hottest rows, ` +
      `Redis ${cfg.redisAllEntities && stack.redisUrl ? universe.size.toLocaleString("en-US") : 0} hashes, plus the single-tier sets (in parallel)`,
  );
  await Promise.all([
    timed("postgres", async () => {
      const r = await loadPostgres(
        stack.databaseUrl,
        [
          { entityType: "user", idPrefix: "user_", count: cfg.entities.user, vector: "userBatch" },
          { entityType: "track", idPrefix: "track_", count: cfg.entities.track, vector: "trackBatch" },
          { entityType: "artist", idPrefix: "artist_", count: cfg.entities.artist, vector: "artistBatch" },
          { entityType: "user", idPrefix: "user_pg_", count: sets.postgres.length, vector: "userBatch" },
          { entityType: "user", idPrefix: "user_cold_", count: sets.cold.length, vector: "userBatch" },
        ],
        F,
        loadedAt,
      );
      timings.postgres_rows = r.rows;
      timings.postgres_insert_s = Math.round(r.insertMs / 100) / 10;
      timings.postgres_index_s = Math.round(r.indexMs / 100) / 10;
    }),
    timed("kv_and_durable_objects", async () => {
      await loadKv(stack.urls.loader, kvOnly.length, (i) => asLoad(kvOnly[i]!, i + 1, "userBatch"), F, loadedAt);
      const doIds = [...sets.durableObject, ...sets.durableObjectFloor];
      await loadDurableObjects(
        stack.urls.loader,
        doIds.map((id, i) => asLoad(id, i + 1, "userStream")),
        F,
        loadedAt,
      );
      let last = Date.now();
      await loadKv(stack.urls.loader, kvHot, fromRank, F, loadedAt, (done) => {
        if (Date.now() - last > 15_000) {
          last = Date.now();
          step(`  KV rows: ${done.toLocaleString("en-US")} / ${kvHot.toLocaleString("en-US")}`);
        }
      });
    }),
    stack.redisUrl
      ? timed("redis", async () => {
          await loadRedis(
            stack.redisUrl!,
            stack.redisPrefix,
            sets.redis.length,
            (i) => asLoad(sets.redis[i]!, i + 1, "userBatch"),
            F,
            loadedAt,
          );
          if (cfg.redisAllEntities) await loadRedis(stack.redisUrl!, stack.redisPrefix, universe.size, (i) => fromRank(i), F, loadedAt);
        })
      : Promise.resolve(),
  ]);
  return timings;
}

async function tierErrors(ctx: BenchContext): Promise<Record<string, number>> {
  const res = await ctx.serving.get("/metrics");
  const out: Record<string, number> = {};
  for (const m of res.body.toString().matchAll(/^feature_tier_errors_total\{tier="(\w+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Requests the Worker has answered (its feature_serving_requests_total; 0 before the in-memory-KV Worker is set up). */
async function servedRequests(ctx: BenchContext, worker: string): Promise<number> {
  const client =
    worker === "bench-memory-kv"
      ? new HttpClient(ctx.stack.urls.memoryKv, { authorization: `Bearer ${ctx.stack.apiKey}` }, 1)
      : ctx.serving;
  try {
    const res = await client.get("/metrics");
    if (res.status !== 200) return 0;
    return [...res.body.toString().matchAll(/^feature_serving_requests_total(?:\{[^}]*\})? (\d+)$/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
  } finally {
    if (client !== ctx.serving) client.close();
  }
}

async function main(): Promise<number> {
  // biome-ignore lint/suspicious/noImplicitAnyLet: TypeScript types it from parseArgs' overloads at the assignment below
  let args;
  try {
    args = parseArgs({
      options: {
        quick: { type: "boolean", default: false },
        only: { type: "string" },
        "update-readme": { type: "boolean", default: false },
        profile: { type: "boolean", default: false },
        "heap-profile": { type: "boolean", default: false },
        peer: { type: "string" },
        "peer-duration": { type: "string" },
        "peer-pid": { type: "string", multiple: true },
        "peer-bearer": { type: "string" },
        "ours-processes": { type: "string" },
        "alloc-profile": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (err) {
    console.error(`${errorMessage(err)}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const major = Number(process.versions.node.split(".")[0]);
  if (major < MIN_NODE_MAJOR) {
    console.error(
      `npm run bench needs Node ${MIN_NODE_MAJOR}+ (this is ${process.versions.node}); run it through npm, which puts the project's node@22 first on PATH.`,
    );
    return 1;
  }
  const cfg = args.quick ? QUICK : FULL;
  const only = args.only ? new Set(args.only.split(",").map((s) => s.trim())) : undefined;
  let peer: PeerOptions | undefined;
  try {
    peer = parsePeerOptions(args, cfg.mode);
    if (onlyPeer(only) && !peer) throw new Error("--only peer needs --peer URL");
    // Replicas split L0 and KV between processes: every other scenario assumes one serving isolate.
    if (peer && peer.oursProcesses > 1 && !onlyPeer(only)) throw new Error("--ours-processes needs --only peer");
  } catch (err) {
    console.error(`${errorMessage(err)}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const startedAt = new Date();
  const stamp = startedAt
    .toISOString()
    .replace(/[:.]/g, "-")
    .replace(/-\d{3}Z$/, "Z");
  const registry = peer ? withPeerGroup(benchRegistry(cfg.featuresPerVector)) : benchRegistry(cfg.featuresPerVector);
  console.log(
    onlyPeer(only) && peer
      ? `EchoTune Feature Store bench (${cfg.mode}): only ours vs ${peer.url}, ${peer.users.toLocaleString("en-US")} users × 50 features\n`
      : `EchoTune Feature Store bench (${cfg.mode}): ${totalEntities(cfg).toLocaleString("en-US")} entities × ${cfg.featuresPerVector} features\n`,
  );

  let stack: BenchStack | undefined;
  /** Closes whatever startStack has started so far (set before it starts anything). */
  let closeStack: (() => Promise<void>) | undefined;
  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (closing ??= (async () => {
      if (!closeStack) return;
      step("stopping the stack, dropping the database and the Redis prefix");
      await closeStack();
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    // Only the first one: tsx relays a signal to this process again when it did not see it handled
    // within 30 ms, and exiting on that second one would cut the cleanup short.
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: interrupted`);
    // tsx re-sends a signal it has not seen handled within 30 ms and SIGKILLs after another 30 ms;
    // stopping workerd can block the event loop for a moment, so start only after that exchange.
    setTimeout(() => void shutdown().finally(() => process.exit(EXIT_INTERRUPTED)), SIGNAL_SETTLE_MS);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const heapSampling = args["heap-profile"] || args["alloc-profile"];
  if ((args.profile || heapSampling) && !process.env.BENCH_INSPECTOR_PORT) process.env.BENCH_INSPECTOR_PORT = String(await freePort());
  /** One inspector session per profiled Worker (the scenario's own Worker: serving, or the in-memory-KV one). */
  const profilers = new Map<string, WorkerProfiler>();
  const profilerFor = async (scenario: string) => {
    const worker = scenario === "batch-100-memory-kv" ? "bench-memory-kv" : "feature-serving";
    let p = profilers.get(worker);
    if (!p) {
      p = await WorkerProfiler.connect(Number(process.env.BENCH_INSPECTOR_PORT), worker);
      profilers.set(worker, p);
    }
    return { worker, profiler: p };
  };
  try {
    stack = await startStack({
      registry,
      logPath: path.join(RESULTS_DIR, `${stamp}.log`),
      step,
      registerClose: (close) => (closeStack = close),
      servingProcesses: peer?.oursProcesses ?? 1,
    });
    const auth = { authorization: `Bearer ${stack.apiKey}` };
    const ctx: BenchContext = {
      cfg,
      stack,
      serving: new HttpClient(stack.urls.serving, auth, 64),
      ingest: new HttpClient(stack.urls.ingest, auth, 16),
      bare: new HttpClient(stack.urls.bare, {}, 64),
      loader: new HttpClient(stack.urls.loader, {}, 64),
      universe: new Universe(cfg.entities),
      loadedAt: Date.now(),
      sets: tierSets(cfg),
      names: Object.fromEntries((Object.keys(VECTORS) as VectorName[]).map((v) => [v, featureNames(v, cfg.featuresPerVector)])) as Record<
        VectorName,
        string[]
      >,
      log: (message) => step(`  ! ${message}`),
    };
    // The comparison loads its own users; --only peer needs nothing else.
    const loadTimings = onlyPeer(only) ? {} : await loadData(ctx);

    const baselines: ScenarioResult[] = [];
    const scenarios: ScenarioResult[] = [];
    /** Each scenario's wall-clock window, for the GC pauses that fall in it (placed once every line is in). */
    const windows: { result: ScenarioResult; from: number; to: number }[] = [];
    const run = async (name: string, into: ScenarioResult[], fn: () => Promise<ScenarioResult>) => {
      // A selected scenario's same-run baseline runs with it: bare-hono for l0-hit, do-get-floor for aggregate-read.
      const baselineOf: Record<string, string> = { "bare-hono": "l0-hit", "do-get-floor": "aggregate-read" };
      if (interrupted || (only && !only.has(name) && !only.has(baselineOf[name] ?? ""))) return;
      const t = Date.now();
      const sampler = new CpuSampler();
      sampler.start();
      const profiling = args.profile ? await profilerFor(name) : undefined;
      await profiling?.profiler.start();
      const heapProfiling = heapSampling ? await profilerFor(name) : undefined;
      const servedBefore = args["alloc-profile"] && heapProfiling ? await servedRequests(ctx, heapProfiling.worker) : 0;
      await heapProfiling?.profiler.startHeapSampling(args["alloc-profile"]);
      let result: ScenarioResult;
      try {
        result = await fn();
      } catch (err) {
        result = failed(name, err);
      }
      if (profiling) {
        const profile = await profiling.profiler.stop();
        const file = path.join(RESULTS_DIR, `${stamp}-${name}.cpuprofile`);
        writeProfile(profile, file);
        step(
          `${name}: ${profiling.worker} CPU profile ${path.relative(PROJECT_ROOT, file)}; top self time:\n${formatSummary(summarizeProfile(profile, 20))}`,
        );
      }
      if (heapProfiling) {
        const profile = await heapProfiling.profiler.stopHeapSampling();
        const file = path.join(RESULTS_DIR, `${stamp}-${name}.heapprofile`);
        writeProfile(profile, file);
        let perRequest = "";
        if (args["alloc-profile"]) {
          const served = (await servedRequests(ctx, heapProfiling.worker)) - servedBefore;
          // The in-memory-KV Worker's /setup (20,000 rows) runs inside the scenario: not a request's garbage.
          const bytes = served > 0 ? Math.round(heapProfileBytes(profile, new Set(["setUpMemoryKv"])) / served) : null;
          result.extra = { ...result.extra, alloc_bytes_per_request: bytes, alloc_requests_served: served };
          perRequest = `, ${bytes ?? "?"} bytes allocated per request (${served} requests)`;
        }
        step(
          `${name}: ${heapProfiling.worker} ${args["alloc-profile"] ? "allocations" : "allocations that outlived a young-generation GC"} ${path.relative(PROJECT_ROOT, file)}${perRequest}; top sites:\n` +
            formatHeapSummary(summarizeHeapProfile(profile, 20)),
        );
      }
      const cpu = sampler.stop();
      if (cpu) result.cpu = cpu;
      windows.push({ result, from: t, to: Date.now() });
      into.push(result);
      const busy = cpu && cpu.other_cores >= BUSY_OTHER_CORES ? ` — other processes used ${cpu.other_cores} cores meanwhile` : "";
      const what = result.skipped
        ? `skipped (${result.skipped})`
        : result.failed
          ? `FAILED: ${result.failed}`
          : [
              result.p50_ms === null ? "" : `p50 ${result.p50_ms} ms, p95 ${result.p95_ms} ms, p99 ${result.p99_ms} ms`,
              result.rps === null ? "" : `${result.rps}/s`,
              result.errors ? `${result.errors} errors` : "",
            ]
              .filter(Boolean)
              .join(", ");
      step(`${name}: ${what} [${((Date.now() - t) / 1000).toFixed(1)} s]${busy}`);
    };

    let l0: ScenarioResult | undefined;
    await run("bare-hono", baselines, async () => {
      const both = await bareAndL0(ctx);
      l0 = both.l0;
      return both.bare;
    });
    await run("redis-hmget", baselines, () => redisHmget(ctx));
    let floors: ScenarioResult[] = [];
    await run("kv-get-floor", baselines, async () => {
      floors = await kvFloors(ctx);
      return floors[0]!;
    });
    if (floors[1]) {
      // Measured in the same window as kv-get-floor.
      if (floors[0]?.cpu) floors[1].cpu = floors[0].cpu;
      baselines.push(floors[1]);
    }
    await run("do-get-floor", baselines, () => doFloor(ctx));
    await run("upstash-hmget-floor", baselines, () => upstashFloor(ctx));
    await run("bare-hono-batch-100", baselines, () => bareBatch(ctx));
    await run("batch-100-memory-kv", baselines, () => memoryKvBatch(ctx));
    if (only && !only.has("l0-hit") && !only.has("bare-hono")) {
      // not selected
    } else if (l0) {
      if (baselines[0]?.cpu) l0.cpu = baselines[0].cpu;
      scenarios.push(l0);
      step(`l0-hit: p50 ${l0.p50_ms} ms, p95 ${l0.p95_ms} ms, p99 ${l0.p99_ms} ms`);
    } else scenarios.push(failed("l0-hit", "bare-hono/l0-hit pass failed"));
    await run("sdk-l0-hit", scenarios, () => sdkL0Hit(ctx));
    await run("kv-hit", scenarios, () => kvHit(ctx));
    await run("do-hit", scenarios, () => doHit(ctx));
    await run("redis-hit", scenarios, () => redisHit(ctx));
    await run("postgres-backfill", scenarios, () => postgresBackfill(ctx));
    await run("batch-10", scenarios, () => batch(ctx, 10));
    await run("batch-100", scenarios, () => batch(ctx, 100));
    // One scenario, four rows: hedging on/off over a slow in-memory KV and over the KV simulator.
    let hedged: ScenarioResult[] = [];
    await run("hedged-batch-100", scenarios, async () => {
      hedged = await hedgedBatch(ctx);
      return hedged[0]!;
    });
    for (const r of hedged.slice(1)) scenarios.push(r);
    await run("mixed-zipf", scenarios, () => mixedZipf(ctx));
    await run("stampede", scenarios, () => stampede(ctx));
    await run("ingest", scenarios, () => ingest(ctx));
    await run("freshness", scenarios, () => freshness(ctx));
    await run("bulk-load", scenarios, () => bulkLoad(ctx));
    await run("training-set", scenarios, () => trainingSet(ctx));
    await run("stream-freshness", scenarios, () => streamFreshness(ctx));
    await run("stream-ingest", scenarios, () => streamIngest(ctx));
    await run("aggregate-read", scenarios, () => aggregateRead(ctx));
    await run("stream-hot-object", scenarios, () => streamHotObject(ctx));
    let peerReport: BenchReport["peer"];
    if (peer) {
      const opts = peer;
      await run("peer", scenarios, async () => {
        const { comparison, result } = await peerComparison(ctx, opts);
        peerReport = comparison;
        return result;
      });
    }

    if (interrupted) return EXIT_INTERRUPTED;
    if (stack.gcTrace.size) {
      for (const w of windows) w.result.gc = stack.gcTrace.summarize(w.from, w.to);
      // l0-hit and the bulk-get floor ran inside bare-hono's and kv-get-floor's windows.
      if (l0 && baselines[0]?.gc) l0.gc = baselines[0].gc;
      if (floors[1] && floors[0]?.gc) floors[1].gc = floors[0].gc;
    }
    const finishedAt = new Date();
    const report: BenchReport = {
      started_at: startedAt.toISOString(),
      finished_at: finishedAt.toISOString(),
      duration_s: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      machine: machineInfo(stack),
      config: {
        mode: cfg.mode,
        entities: { ...cfg.entities, total: totalEntities(cfg) },
        features_per_vector: cfg.featuresPerVector,
        postgres_rows_feature_latest: loadTimings.postgres_rows,
        kv_materialized_entities: Math.min(cfg.kvHotEntities, ctx.universe.size),
        redis_entities: stack.redisUrl && cfg.redisAllEntities ? ctx.universe.size : 0,
        single_tier_sets: Object.fromEntries(Object.entries(ctx.sets).map(([k, v]) => [k, (v as string[]).length])),
        requests: cfg.requests,
        warmup_requests: cfg.warmupRequests,
        saturation: { concurrency: cfg.saturationConcurrency, seconds: cfg.saturationSeconds },
        batches: cfg.batches,
        mixed: cfg.mixed,
        stampede: cfg.stampede,
        ingest: cfg.ingest,
        freshness: cfg.freshness,
        training: cfg.training,
        runtime: "Miniflare 5 = plain workerd, one process, one isolate per Worker; unsafeDirectSockets (no wrangler dev proxy)",
        serving_vars: servingVars(),
        client:
          "Node node:http keep-alive agent in the bench process; latency = send → last byte (open model: from the scheduled send time when the send was > 2 ms late)",
        miniflare_state: stack.stateOnTmpfs ? "tmpfs (/dev/shm)" : "disk (os.tmpdir())",
        postgres_notes:
          "feature_latest bulk-loaded with its indexes rebuilt afterwards, analyzed, autovacuum off for it (bench database only)",
        load_timings: loadTimings,
      },
      baselines,
      scenarios,
      targets: [],
      diagnostics: {
        worker_log_lines: stack.logCounts,
        tier_errors_total: await tierErrors(ctx).catch(() => ({})),
        worker_log: path.relative(PROJECT_ROOT, stack.logPath),
      },
    };
    if (peerReport) report.peer = peerReport;
    // A peer-only run measures none of the other targets: only its own rows.
    report.targets = [...(onlyPeer(only) ? [] : checkTargets(report)), ...(peerReport ? peerTargets(peerReport) : [])];
    const jsonPath = path.join(RESULTS_DIR, `${stamp}.json`);
    const mdPath = path.join(RESULTS_DIR, `${stamp}.md`);
    const md = writeReport(report, jsonPath, mdPath);
    console.log(`\n${md}`);
    console.log(`results: ${path.relative(PROJECT_ROOT, jsonPath)}, ${path.relative(PROJECT_ROOT, mdPath)}`);
    if (args["update-readme"]) {
      updateReadme(path.join(PROJECT_ROOT, "README.md"), report, md);
      console.log("README.md: Performance section updated");
    }
    for (const c of [ctx.serving, ctx.ingest, ctx.bare, ctx.loader]) c.close();
    for (const p of profilers.values()) p.close();
    return 0;
  } catch (err) {
    if (interrupted) return EXIT_INTERRUPTED;
    if (err instanceof BenchSetupError) console.error(`\nnpm run bench: ${err.message}`);
    else {
      console.error(`\nnpm run bench failed: ${errorMessage(err)}`);
      if (err instanceof Error && err.stack) console.error(err.stack.split("\n").slice(1, 4).join("\n"));
    }
    return 1;
  } finally {
    await shutdown();
    step("done");
  }
}

runIfMain("npm run bench failed", import.meta.url, async () => {
  const code = await main();
  return interrupted ? EXIT_INTERRUPTED : code;
});
