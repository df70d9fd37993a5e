// npm run chaos: faults under open-model load on a stack of its own (issue 13), with accepted-vs-accounted pushes and the fuzz corpus replayed; writes bench/results/chaos-<timestamp>.{json,md}.
//
// Loopback only and bounded (about 5 minutes): our own redis-server and a fresh database on the
// shared Postgres, each behind a TCP proxy of ours, and both Workers on free ports, so it never
// touches the shared 5432/6379 services' state nor the dev stack's fixed ports.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { decodeTimedValue, redisEntityKey } from "../../src/core/keys";
import { runIfMain } from "../../tools/cli";
import { FUZZ_SEED, hostileBody } from "../../tools/fuzz-bodies";
import { PROJECT_ROOT } from "../../tools/paths";
import { withPgClient } from "../../tools/postgres";
import { benchRegistry, featureNames } from "../lib/dataset";
import { HttpClient, type HttpResult, nowNs } from "../lib/http";
import { RespClient } from "../lib/resp";
import { type ChaosStack, startChaosStack } from "./stack";

/** Reads per second of the open-model load (fixed arrival rate, whatever the answers). */
const READ_RATE = 100;
/** Pushes per second while a fault runs, each of UPDATES_PER_PUSH updates. */
const PUSH_RATE = 5;
const UPDATES_PER_PUSH = 10;
/** Seconds of each fault scenario: before the fault, during it, after it is cleared. */
const PHASE_S = { before: 8, during: 10, after: 12 } as const;
/** The delay the slow proxy adds to every chunk in each direction. */
const SLOW_DELAY_MS = 200;
const KNOWN_USERS = 200;
/** Reads and pushes before the baseline: a fresh isolate, its Durable Objects and JIT are slow for a while. */
const WARM_UP_S = 20;
const FEATURES = 5;
/** Hostile bodies replayed per second beside the normal load, and for how long. */
const FUZZ_RATE = 50;
const FUZZ_S = 15;
/** How long the accounting waits for the queue to drain (the consumer retries after 5 s, 15 s, 45 s ...). */
const DRAIN_TIMEOUT_MS = 150_000;
/**
 * Recovered = from this 1 s window on, every window has no error and a p50 within this factor of
 * the baseline's (+5 ms): p50 per second, not single slow requests, since the machine is shared.
 */
const RECOVERED_P50_FACTOR = 2;
const RECOVERY_WINDOW_MS = 1_000;

interface Sample {
  /** ms since the run's clock origin when it was due */
  t: number;
  ms: number;
  status: number;
}

const origin = nowNs();
const clock = () => Number(nowNs() - origin) / 1e6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const stream = featureNames("userStream", FEATURES);
const knownUser = (i: number) => `user_k${(i * 7919) % KNOWN_USERS}`;

/** The i-th read of the mix: 70% one known user, 15% a batch of 10, 15% a user no tier has (a miss goes all the way down). */
function readRequest(i: number): { path: string; body: unknown } {
  const r = i % 20;
  if (r < 14) return { path: "/features/get", body: { entity_id: knownUser(i), feature_names: stream } };
  if (r < 17)
    return {
      path: "/features/batch",
      body: Array.from({ length: 10 }, (_, k) => ({ entity_id: knownUser(i + k), feature_names: stream })),
    };
  return { path: "/features/get", body: { entity_id: `user_cold_${i}`, feature_names: stream } };
}

/** Sends request i at start + i/rate, whatever came back; latency runs from the due time (no coordinated omission). */
async function openLoad(
  client: HttpClient,
  rate: number,
  seconds: number,
  request: (i: number) => { path: string; body: unknown },
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const pending: Promise<void>[] = [];
  const start = clock();
  const total = Math.round(rate * seconds);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - clock();
    if (wait > 0) await sleep(Math.ceil(wait));
    const dueNs = origin + BigInt(Math.round(due * 1e6));
    const { path: p, body } = request(i);
    pending.push(
      client.post(p, body, dueNs).then(
        (res: HttpResult) => void samples.push({ t: due, ms: res.ms, status: res.status }),
        () => void samples.push({ t: due, ms: clock() - due, status: 0 }),
      ),
    );
  }
  await Promise.all(pending);
  return samples.sort((a, b) => a.t - b.t);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface WindowStats {
  requests: number;
  errorRate: number;
  p50: number;
  p99: number;
}

function stats(samples: Sample[]): WindowStats {
  const errors = samples.filter((s) => s.status !== 200).length;
  const ok = samples.filter((s) => s.status === 200).map((s) => s.ms);
  return {
    requests: samples.length,
    errorRate: samples.length ? errors / samples.length : 0,
    p50: percentile(ok, 50),
    p99: percentile(ok, 99),
  };
}

// ------------------------------------------------------------------ pushes and the oracle

interface Update {
  entity_type: "user";
  entity_id: string;
  event_timestamp: number;
  features: Record<string, number>;
}

class PushLedger {
  private next = 0;
  readonly accepted: Update[] = [];
  refused = 0;
  /**
   * Event times are unique and shuffled, so arrival order is not event order (last-write-wins by
   * event time). A warm-up ledger starts earlier (`ageMs`): on the same users, so their Durable
   * Objects exist before the baseline, and older than any update the accounting counts.
   */
  readonly base: number;
  constructor(ageMs = 3_600_000) {
    this.base = Date.now() - ageMs;
  }

  update(): Update {
    const k = this.next++;
    const ts = this.base + ((k * 7_919) % 100_003) * 10 + (k % 10);
    return {
      entity_type: "user",
      entity_id: `user_p${k % 100}`,
      event_timestamp: ts,
      // Entity and feature vary independently: 100 users × 5 features = 500 last-write-wins cells.
      features: { [stream[Math.floor(k / 100) % FEATURES]!]: Math.round(k * 1.37 * 1000) / 1000 },
    };
  }

  /** PUSH_RATE pushes per second for `seconds`; an update counts as accepted only when its push answered 202. */
  async run(client: HttpClient, seconds: number): Promise<void> {
    const pending: Promise<void>[] = [];
    const start = clock();
    for (let i = 0; i < PUSH_RATE * seconds; i++) {
      const wait = start + (i * 1000) / PUSH_RATE - clock();
      if (wait > 0) await sleep(Math.ceil(wait));
      const batch = Array.from({ length: UPDATES_PER_PUSH }, () => this.update());
      pending.push(
        client.post("/ingest/push", batch).then(
          (res) => {
            if (res.status === 202) this.accepted.push(...batch);
            else this.refused += batch.length;
          },
          () => {
            this.refused += batch.length;
          },
        ),
      );
    }
    await Promise.all(pending);
  }

  /** The last-write-wins state: per entity and feature, the value of the greatest event time. */
  oracle(): Map<string, { entity: string; feature: string; ts: number; value: number }> {
    const out = new Map<string, { entity: string; feature: string; ts: number; value: number }>();
    for (const u of this.accepted)
      for (const [feature, value] of Object.entries(u.features)) {
        const key = `${u.entity_id}|${feature}`;
        const seen = out.get(key);
        if (!seen || seen.ts < u.event_timestamp) out.set(key, { entity: u.entity_id, feature, ts: u.event_timestamp, value });
      }
    return out;
  }
}

interface Accounting {
  accepted: number;
  refused: number;
  inPostgres: number;
  deadLetters: number;
  deadLettersWithReason: number;
  unaccounted: number;
  drainSeconds: number;
  convergence: Record<"postgres" | "redis" | "served", { match: number; total: number }>;
}

async function account(stack: ChaosStack, ledger: PushLedger, serving: HttpClient): Promise<Accounting> {
  const accepted = ledger.accepted.length;
  const started = Date.now();
  return withPgClient(stack.databaseUrl, async (db) => {
    const count = async () => {
      const rows = await db.query<{ n: string }>(
        "select count(distinct (entity_id, feature_name, event_timestamp))::text as n from feature_values where entity_id like 'user_p%' and event_timestamp >= to_timestamp($1 / 1000.0)",
        [ledger.base],
      );
      const dl = await db.query<{ n: string; r: string }>(
        "select count(*)::text as n, count(*) filter (where jsonb_array_length(reasons) > 0)::text as r from dead_letters where message->>'entity_id' like 'user_p%'",
      );
      return { inPostgres: Number(rows.rows[0]!.n), deadLetters: Number(dl.rows[0]!.n), withReason: Number(dl.rows[0]!.r) };
    };
    let c = await count();
    while (c.inPostgres + c.deadLetters < accepted && Date.now() - started < DRAIN_TIMEOUT_MS) {
      await sleep(2_000);
      c = await count();
    }
    const drainSeconds = (Date.now() - started) / 1000;
    const oracle = [...ledger.oracle().values()];
    const latest = await db.query<{ entity_id: string; feature_name: string; v: number; ts: string }>(
      "select entity_id, feature_name, (feature_value #>> '{}')::float8 as v, (extract(epoch from event_timestamp) * 1000)::bigint::text as ts from feature_latest where entity_id like 'user_p%'",
    );
    const pg = new Map(latest.rows.map((r) => [`${r.entity_id}|${r.feature_name}`, { v: Number(r.v), ts: Number(r.ts) }]));
    const redis = await RespClient.connect(stack.redis.url);
    const convergence: Accounting["convergence"] = {
      postgres: { match: 0, total: oracle.length },
      redis: { match: 0, total: oracle.length },
      served: { match: 0, total: oracle.length },
    };
    // Past the 1 s L0 TTL of stream features, so the served value is the Durable Object's.
    await sleep(1_500);
    for (const o of oracle) {
      const p = pg.get(`${o.entity}|${o.feature}`);
      if (p && p.v === o.value && p.ts === o.ts) convergence.postgres.match++;
      const raw = (await redis.command("HGET", redisEntityKey(stack.redisPrefix, "user", o.entity), o.feature)) as Buffer | null;
      const r = decodeTimedValue(raw?.toString());
      if (r && r.value === o.value && r.eventTimestamp === o.ts) convergence.redis.match++;
      const res = await serving.post("/features/get", { entity_id: o.entity, feature_names: [o.feature] });
      const served =
        res.status === 200 ? (JSON.parse(res.body.toString()) as { features: Record<string, unknown> }).features[o.feature] : undefined;
      if (served === o.value) convergence.served.match++;
    }
    redis.close();
    return {
      accepted,
      refused: ledger.refused,
      inPostgres: c.inPostgres,
      deadLetters: c.deadLetters,
      deadLettersWithReason: c.withReason,
      unaccounted: Math.max(0, accepted - c.inPostgres - c.deadLetters),
      drainSeconds,
      convergence,
    };
  });
}

// ------------------------------------------------------------------ scenarios

interface FaultResult {
  fault: string;
  before: WindowStats;
  during: WindowStats;
  after: WindowStats;
  recoverySeconds: number;
}

interface Fault {
  name: string;
  inject(stack: ChaosStack): Promise<void>;
  clear(stack: ChaosStack): Promise<void>;
}

const FAULTS: Fault[] = [
  { name: "Redis stopped (redis-server killed), then restarted", inject: (s) => s.redis.stop(), clear: (s) => s.redis.start() },
  {
    name: "Postgres stopped (proxy refuses and cuts every connection, mid-batch for the consumer), then back",
    inject: async (s) => s.postgresProxy.setMode({ kind: "down" }),
    clear: async (s) => s.postgresProxy.setMode({ kind: "up" }),
  },
  {
    name: `Redis slow (+${SLOW_DELAY_MS} ms per chunk each way)`,
    inject: async (s) => s.redisProxy.setMode({ kind: "slow", delayMs: SLOW_DELAY_MS }),
    clear: async (s) => s.redisProxy.setMode({ kind: "up" }),
  },
  {
    name: `Postgres slow (+${SLOW_DELAY_MS} ms per chunk each way)`,
    inject: async (s) => s.postgresProxy.setMode({ kind: "slow", delayMs: SLOW_DELAY_MS }),
    clear: async (s) => s.postgresProxy.setMode({ kind: "up" }),
  },
];

/** Seconds from `clearedAt` to the start of the first window from which on every window is healthy. */
function recoverySeconds(samples: Sample[], clearedAt: number, baselineP50: number): number {
  const after = samples.filter((s) => s.t >= clearedAt);
  const windows = new Map<number, Sample[]>();
  for (const s of after) {
    const w = Math.floor((s.t - clearedAt) / RECOVERY_WINDOW_MS);
    windows.set(w, [...(windows.get(w) ?? []), s]);
  }
  const last = Math.max(-1, ...windows.keys());
  let recovered = last + 1;
  for (let w = last; w >= 0; w--) {
    const st = stats(windows.get(w) ?? []);
    if (st.errorRate > 0 || !(st.p50 <= baselineP50 * RECOVERED_P50_FACTOR + 5)) break;
    recovered = w;
  }
  return (recovered * RECOVERY_WINDOW_MS) / 1000;
}

async function runFault(stack: ChaosStack, serving: HttpClient, ingest: HttpClient, ledger: PushLedger, fault: Fault, baselineP50: number) {
  const total = PHASE_S.before + PHASE_S.during + PHASE_S.after;
  const loadStart = clock();
  const load = openLoad(serving, READ_RATE, total, readRequest);
  const pushes = ledger.run(ingest, total);
  await sleep(PHASE_S.before * 1000);
  const injectedAt = clock();
  await fault.inject(stack);
  await sleep(PHASE_S.during * 1000 - (clock() - injectedAt));
  const clearedAt = clock();
  await fault.clear(stack);
  const [samples] = await Promise.all([load, pushes]);
  const before = stats(samples.filter((s) => s.t < injectedAt));
  return {
    fault: fault.name,
    before,
    during: stats(samples.filter((s) => s.t >= injectedAt && s.t < clearedAt)),
    after: stats(samples.filter((s) => s.t >= clearedAt)),
    // Against this scenario's own before-phase (the shared machine's load drifts between scenarios).
    recoverySeconds: recoverySeconds(samples, clearedAt, Math.max(before.p50, baselineP50)),
    loadStart,
  };
}

async function seed(ingest: HttpClient): Promise<void> {
  const ts = Date.now() - 60_000;
  for (let start = 0; start < KNOWN_USERS; start += 100) {
    const batch = Array.from({ length: 100 }, (_, k) => ({
      entity_type: "user",
      entity_id: `user_k${start + k}`,
      event_timestamp: ts,
      features: Object.fromEntries(stream.map((f, j) => [f, (start + k + j) / 10])),
    }));
    const res = await ingest.post("/ingest/push", batch);
    if (res.status !== 202) throw new Error(`seed push answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
  }
}

const f1 = (n: number) => (Number.isNaN(n) ? "–" : n.toFixed(1));
const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

function renderMarkdown(r: {
  at: string;
  baseline: WindowStats;
  faults: FaultResult[];
  pushes: Accounting;
  fuzz: { sent: number; fiveXx: number; statuses: Record<string, number>; normal: WindowStats; reference: WindowStats };
}): string {
  const lines = [
    `Run ${r.at}: ${READ_RATE} reads/s open-model (70% one user × ${FEATURES} stream features, 15% batches of 10, 15% users no tier has); phases ${PHASE_S.before} s before, ${PHASE_S.during} s during, ${PHASE_S.after} s after each fault; ${PUSH_RATE} pushes/s × ${UPDATES_PER_PUSH} updates throughout.`,
    "",
    `Baseline (no fault, same pushes): ${r.baseline.requests} reads, errors ${pct(r.baseline.errorRate)}, p50 ${f1(r.baseline.p50)} ms, p99 ${f1(r.baseline.p99)} ms.`,
    "",
    `| fault | errors before / during / after | p50 ms before / during / after | p99 ms before / during / after | time to recover (from then on every 1 s window: no error, p50 ≤ ${RECOVERED_P50_FACTOR}× before + 5 ms) |`,
    "|---|---|---|---|---|",
    ...r.faults.map(
      (f) =>
        `| ${f.fault} | ${pct(f.before.errorRate)} / ${pct(f.during.errorRate)} / ${pct(f.after.errorRate)} | ${f1(f.before.p50)} / ${f1(f.during.p50)} / ${f1(f.after.p50)} | ${f1(f.before.p99)} / ${f1(f.during.p99)} / ${f1(f.after.p99)} | ${f.recoverySeconds.toFixed(1)} s |`,
    ),
    "",
    "| pushed updates | accepted (202) | refused | in Postgres `feature_values` | dead letters (with reason) | unaccounted (still queued or lost) | drained after | Postgres `feature_latest` = oracle | Redis = oracle | served = oracle |",
    "|---|---|---|---|---|---|---|---|---|---|",
    `| ${r.pushes.accepted + r.pushes.refused} | ${r.pushes.accepted} | ${r.pushes.refused} | ${r.pushes.inPostgres} | ${r.pushes.deadLetters} (${r.pushes.deadLettersWithReason}) | ${r.pushes.unaccounted} | ${r.pushes.drainSeconds.toFixed(0)} s | ${r.pushes.convergence.postgres.match}/${r.pushes.convergence.postgres.total} | ${r.pushes.convergence.redis.match}/${r.pushes.convergence.redis.total} | ${r.pushes.convergence.served.match}/${r.pushes.convergence.served.total} |`,
    "",
    "| fuzz corpus replayed under load | 5xx | statuses | normal reads meanwhile: errors | p50 ms (just before) | p99 ms (just before) |",
    "|---|---|---|---|---|---|",
    `| ${r.fuzz.sent} hostile bodies (seed ${FUZZ_SEED}) at ${FUZZ_RATE}/s to /features/get, /features/batch, /ingest/push | ${r.fuzz.fiveXx} | ${Object.entries(
      r.fuzz.statuses,
    )
      .map(([s, n]) => `${s}: ${n}`)
      .join(
        ", ",
      )} | ${pct(r.fuzz.normal.errorRate)} | ${f1(r.fuzz.normal.p50)} (${f1(r.fuzz.reference.p50)}) | ${f1(r.fuzz.normal.p99)} (${f1(r.fuzz.reference.p99)}) |`,
  ];
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<number> {
  const step = (m: string) => console.log(`  • ${m}`);
  console.log("EchoTune Feature Store — faults and load (npm run chaos)\n");
  const stack = await startChaosStack(benchRegistry(FEATURES), step);
  const stop = () => void stack.close().then(() => process.exit(130));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const auth = { authorization: `Bearer ${stack.apiKey}` };
    const serving = new HttpClient(stack.servingUrl, auth, 256);
    const ingest = new HttpClient(stack.ingestUrl, auth, 64);
    await seed(ingest);
    await sleep(3_000);
    step(`seeded ${KNOWN_USERS} users × ${FEATURES} stream features; warm-up and baseline`);
    await Promise.all([openLoad(serving, READ_RATE, WARM_UP_S, readRequest), new PushLedger(7_200_000).run(ingest, WARM_UP_S)]);
    // The baseline carries the same pushes as the fault phases, so their consumer work is in both.
    const ledger = new PushLedger();
    const [baselineSamples] = await Promise.all([openLoad(serving, READ_RATE, 15, readRequest), ledger.run(ingest, 15)]);
    const baseline = stats(baselineSamples);
    step(`baseline: p50 ${f1(baseline.p50)} ms, p99 ${f1(baseline.p99)} ms, errors ${pct(baseline.errorRate)}`);

    const faults: FaultResult[] = [];
    for (const fault of FAULTS) {
      const r = await runFault(stack, serving, ingest, ledger, fault, baseline.p50);
      faults.push(r);
      step(
        `${fault.name}: errors during ${pct(r.during.errorRate)}, p99 during ${f1(r.during.p99)} ms, after ${f1(r.after.p99)} ms, recovered in ${r.recoverySeconds.toFixed(1)} s`,
      );
    }
    step(
      `${ledger.accepted.length} updates accepted during the faults; waiting for the queue to drain and checking the tiers against the oracle`,
    );
    const pushes = await account(stack, ledger, serving);
    step(
      `accounted: ${pushes.inPostgres} in Postgres, ${pushes.deadLetters} dead letters, ${pushes.unaccounted} unaccounted of ${pushes.accepted}`,
    );

    // The fuzz corpus of the test suite (same generators and seed), replayed beside the normal load.
    const corpus = [
      ...fc
        .sample(hostileBody({ entity_id: fc.constant('"user_k1"'), feature_names: fc.constant(JSON.stringify(stream)) }), {
          seed: FUZZ_SEED,
          numRuns: (FUZZ_RATE * FUZZ_S * 2) / 3,
        })
        .map((body, i) => ({ path: i % 2 ? "/features/batch" : "/features/get", body })),
      ...fc
        .sample(
          hostileBody({
            entity_type: fc.constant('"user"'),
            entity_id: fc.constant('"user_fz"'),
            event_timestamp: fc.constant(String(Date.now() - 1_000)),
            features: fc.constant(`{"${stream[0]}":1}`),
          }),
          { seed: FUZZ_SEED, numRuns: (FUZZ_RATE * FUZZ_S) / 3 },
        )
        .map((body) => ({ path: "/ingest/push", body })),
    ];
    const statuses: Record<string, number> = {};
    const fuzzClient = new HttpClient(stack.servingUrl, auth, 64);
    const fuzzIngest = new HttpClient(stack.ingestUrl, auth, 64);
    const fuzzRun = async () => {
      const start = clock();
      const pending: Promise<void>[] = [];
      for (let i = 0; i < corpus.length; i++) {
        const wait = start + (i * 1000) / FUZZ_RATE - clock();
        if (wait > 0) await sleep(Math.ceil(wait));
        const { path: p, body } = corpus[i]!;
        const client = p === "/ingest/push" ? fuzzIngest : fuzzClient;
        pending.push(
          client.post(p, body).then(
            (res) => {
              statuses[res.status] = (statuses[res.status] ?? 0) + 1;
            },
            () => {
              statuses.failed = (statuses.failed ?? 0) + 1;
            },
          ),
        );
      }
      await Promise.all(pending);
    };
    const reference = stats(await openLoad(serving, READ_RATE, FUZZ_S, readRequest));
    step(`reference reads just before the fuzz replay: p50 ${f1(reference.p50)} ms, p99 ${f1(reference.p99)} ms`);
    const [normalSamples] = await Promise.all([openLoad(serving, READ_RATE, FUZZ_S, readRequest), fuzzRun()]);
    const fiveXx = Object.entries(statuses)
      .filter(([s]) => s === "failed" || Number(s) >= 500)
      .reduce((n, [, v]) => n + v, 0);
    const fuzz = { sent: corpus.length, fiveXx, statuses, normal: stats(normalSamples), reference };
    step(`fuzz corpus: ${corpus.length} sent, ${fiveXx} 5xx/failed; normal p99 ${f1(fuzz.normal.p99)} ms`);

    const at = new Date().toISOString();
    const report = { at, baseline, faults, pushes, fuzz, workerLogs: stack.logCounts };
    const md = renderMarkdown(report);
    const dir = path.join(PROJECT_ROOT, "bench", "results");
    mkdirSync(dir, { recursive: true });
    const stem = path.join(dir, `chaos-${at.replace(/[:.]/g, "-").slice(0, 19)}Z`);
    writeFileSync(`${stem}.json`, JSON.stringify(report, null, 2));
    writeFileSync(`${stem}.md`, md);
    console.log(`\n${md}\nResults: ${path.relative(PROJECT_ROOT, stem)}.{json,md}`);
    // Failing figures fail the run: 5xx from hostile input, or accepted updates not accounted for.
    return fiveXx === 0 && pushes.unaccounted === 0 ? 0 : 1;
  } finally {
    await stack.close();
  }
}

runIfMain("npm run chaos failed", import.meta.url, main);
