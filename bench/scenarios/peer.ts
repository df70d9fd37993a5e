// `--peer URL`: the same shapes and concurrencies against our serving Worker and another server that
// speaks Feast's POST /get-online-features (the rig in ../shared/peer-feast), interleaved, same client.
import { HttpClient } from "../lib/http";
import { PEER_CONCURRENCIES, PEER_ROUNDS, PEER_SHAPES, type PeerOptions } from "../lib/peer-config";
import { descendantsNamed, type WatchedProcess } from "../lib/peer-cpu";
import {
  PEER_FEATURES,
  PEER_JOIN_KEY,
  peerBodyBuilder,
  peerFeatureNames,
  peerFeatureRefs,
  peerUserId,
  peerValue,
} from "../lib/peer-dataset";
import { type CellMeasure, countValues, FEAST_ONLINE_PATH, runCell } from "../lib/peer-load";
import {
  type PeerCell,
  type PeerCheck,
  type PeerComparison,
  type PeerRunResult,
  type PeerServer,
  peerPlan,
  peerRatios,
  shapeLabel,
} from "../lib/peer-report";
import { loadPeerKv, loadPeerPostgres, loadPeerRedis, readPeerPostgres } from "../lib/peer-store-load";
import { round, type ScenarioResult } from "../lib/stats";
import type { BenchContext } from "./context";

export const OURS_TIERS =
  "every user in Workers KV (L1, one row per user, as materialization writes batch features), Redis (L2, one hash per user) and Postgres feature_latest, " +
  "read through the normal path (L0 memory LRU first); the peer reads its own Redis. KV is the tier our batch features are served from, " +
  "as Redis is Feast's; on this machine it is Miniflare's local KV simulator (SQLite + a file per key on tmpfs), not Cloudflare's";

/** Users of the shape check: first, second and last. */
const CHECK_USERS = (users: number) => [peerUserId(0), peerUserId(1), peerUserId(users - 1)];

interface FeastShape {
  metadata: { feature_names: string[] };
  results: { values: unknown[]; statuses?: string[] }[];
}

/** Both answers to the same request: the same columns (by name: Feast orders them its own way) and rows; ours the loaded values. */
export function comparePeerAnswers(ours: FeastShape, peer: FeastShape, ids: readonly string[]): PeerCheck {
  const notes: string[] = [];
  const oursNames = [...ours.metadata.feature_names].sort();
  const peerNames = [...peer.metadata.feature_names].sort();
  let sameShape = JSON.stringify(oursNames) === JSON.stringify(peerNames);
  if (!sameShape) notes.push(`columns differ: ours [${oursNames.join(",")}] vs peer [${peerNames.join(",")}]`);
  for (const [who, body] of [
    ["ours", ours],
    ["peer", peer],
  ] as const) {
    if (body.results.length !== body.metadata.feature_names.length || body.results.some((c) => c.values.length !== ids.length)) {
      sameShape = false;
      notes.push(`${who}: expected ${body.metadata.feature_names.length} columns of ${ids.length} values`);
    }
  }
  let oursMatch = true;
  ours.metadata.feature_names.forEach((name, j) => {
    const f = /^f(\d+)$/.exec(name);
    const col = ours.results[j]?.values ?? [];
    ids.forEach((id, row) => {
      const expected = name === PEER_JOIN_KEY ? id : f ? peerValue(Number(id.slice(id.lastIndexOf("_") + 1)), Number(f[1])) : undefined;
      if (col[row] !== expected) {
        if (oursMatch) notes.push(`ours ${id} ${name} = ${JSON.stringify(col[row])}, loaded ${JSON.stringify(expected)}`);
        oursMatch = false;
      }
    });
  });
  const counted = countValues(JSON.stringify(peer), new Set([PEER_JOIN_KEY]));
  return {
    same_shape: sameShape,
    ours_values_match: oursMatch,
    peer_non_null_fraction: counted?.values ? round(counted.nonNull / counted.values, 4)! : 0,
    notes,
  };
}

async function tierHits(ctx: BenchContext): Promise<Record<string, number>> {
  const res = await ctx.serving.get("/metrics");
  const out: Record<string, number> = {};
  for (const m of res.body.toString().matchAll(/^feature_tier_hits_total\{[^}]*tier="(\w+)"[^}]*\} (\d+(?:\.\d+)?)$/gm))
    out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  return out;
}

function shares(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta = Object.fromEntries(Object.entries(after).map(([t, n]) => [t, n - (before[t] ?? 0)]));
  const total = Object.values(delta).reduce((a, b) => a + b, 0);
  return Object.fromEntries(
    Object.entries(delta)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([t, n]) => [t, round(n / total, 4)!]),
  );
}

export async function peerComparison(
  ctx: BenchContext,
  opts: PeerOptions,
): Promise<{ comparison: PeerComparison; result: ScenarioResult }> {
  const loadedAt = Date.now();
  const load_s: Record<string, number> = {};
  const timed = async (name: string, fn: () => Promise<unknown>) => {
    const t = Date.now();
    await fn();
    load_s[name] = Math.round((Date.now() - t) / 100) / 10;
  };
  ctx.log(`peer: loading ${opts.users.toLocaleString("en-US")} users × ${PEER_FEATURES} features into KV, Redis and Postgres`);
  const { stack } = ctx;
  await Promise.all([
    // Every serving process has its own KV (a replica's loader writes its KV), loaded alike.
    timed("kv", () => Promise.all([stack.urls.loader, ...stack.replicaLoaders].map((url) => loadPeerKv(url, opts.users, loadedAt)))),
    stack.redisUrl ? timed("redis", () => loadPeerRedis(stack.redisUrl!, stack.redisPrefix, opts.users, loadedAt)) : Promise.resolve(),
    timed("postgres", () => loadPeerPostgres(stack.databaseUrl, opts.users, loadedAt)),
  ]);
  ctx.log(`peer: loaded in ${JSON.stringify(load_s)} s`);

  const oursHeaders = { authorization: `Bearer ${stack.apiKey}` };
  const peerHeaders: Record<string, string> = opts.bearer ? { authorization: `Bearer ${opts.bearer}` } : {};
  const baseUrl = (server: PeerServer) => (server === "ours" ? stack.urls.serving : opts.url);
  const headers = (server: PeerServer) => (server === "ours" ? oursHeaders : peerHeaders);

  // The same request to both: same columns, same rows; ours the values loaded (and Postgres the same as JS).
  const ids = CHECK_USERS(opts.users);
  const body = JSON.stringify({ features: peerFeatureRefs(), entities: { [PEER_JOIN_KEY]: ids } });
  const answers: Partial<Record<PeerServer, FeastShape>> = {};
  for (const server of ["ours", "peer"] as const) {
    const client = new HttpClient(baseUrl(server), headers(server), 1);
    try {
      const res = await client.post(FEAST_ONLINE_PATH, body).catch((e: unknown) => {
        throw new Error(`${server} (${baseUrl(server)}): ${e instanceof Error ? e.message : String(e)}`);
      });
      if (res.status !== 200) throw new Error(`${server} answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
      answers[server] = JSON.parse(res.body.toString()) as FeastShape;
    } finally {
      client.close();
    }
  }
  const check = comparePeerAnswers(answers.ours!, answers.peer!, ids);
  const pg = await readPeerPostgres(stack.databaseUrl, ids);
  for (const id of ids)
    peerFeatureNames().forEach((name, f) => {
      const expected = peerValue(Number(id.slice(5)), f);
      if (pg.get(`${id}|${name}`) !== expected) {
        if (check.ours_values_match)
          check.notes.push(`Postgres ${id} ${name} = ${JSON.stringify(pg.get(`${id}|${name}`))}, expected ${expected}`);
        check.ours_values_match = false;
      }
    });
  if (!check.same_shape || !check.ours_values_match) throw new Error(`peer check failed: ${check.notes.join("; ")}`);
  if (check.peer_non_null_fraction < 1)
    ctx.log(`peer: only ${check.peer_non_null_fraction} of the peer's values are non-null (is its data loaded?)`);

  const workerd = descendantsNamed(process.pid, "workerd");
  const watch: WatchedProcess[] = [
    ...workerd.map((pid, k) => ({ name: workerd.length > 1 ? `ours${k + 1}` : "ours", pid, tree: true })),
    { name: "client", pid: process.pid, tree: false },
    ...opts.pids.map((p) => ({ ...p, tree: true })),
  ];
  const cells: PeerCell[] = PEER_SHAPES.flatMap((s) => PEER_CONCURRENCIES.map((concurrency) => ({ ...s, concurrency })));
  const buildBody = peerBodyBuilder(opts.users);
  const run = (server: PeerServer, cell: PeerCell, seed: number, warmupS: number, durationS: number): Promise<CellMeasure> =>
    runCell(
      {
        baseUrl: baseUrl(server),
        headers: headers(server),
        concurrency: cell.concurrency,
        entities: cell.entities,
        warmupS,
        durationS,
        seed,
        body: buildBody,
        watch,
      },
      new Set([PEER_JOIN_KEY]),
    );

  // One unrecorded pass per server and cell first (the rig's reference run did the same).
  for (const cell of cells) for (const server of ["peer", "ours"] as const) await run(server, cell, 999, 0, Math.max(1, opts.warmupS));
  const runs: PeerRunResult[] = [];
  for (const planned of peerPlan(cells, PEER_ROUNDS)) {
    // Same seed for both servers of a (round, cell): the same sequence of bodies.
    const seed = planned.round * 100 + cells.indexOf(planned.cell);
    // With replicas a /metrics answer is one process's counters: tier shares only with one.
    const before = planned.server === "ours" && stack.servingProcesses === 1 ? await tierHits(ctx).catch(() => undefined) : undefined;
    const m = await run(planned.server, planned.cell, seed, opts.warmupS, opts.durationS);
    const after = before ? await tierHits(ctx).catch(() => undefined) : undefined;
    runs.push({ ...planned, ...m, ...(before && after ? { tiers: shares(before, after) } : {}) });
    ctx.log(
      `peer r${planned.round} ${shapeLabel(planned.cell)} C=${planned.cell.concurrency} ${planned.server}: ${m.rps}/s, p50 ${m.p50_ms} ms, p99 ${m.p99_ms} ms` +
        `${m.errors ? `, ${m.errors} errors (${m.error_samples[0]})` : ""}${m.cpu ? `, cpu ${JSON.stringify(m.cpu)}` : ""}`,
    );
  }
  const comparison: PeerComparison = {
    peer_url: opts.url,
    users: opts.users,
    features: PEER_FEATURES,
    duration_s: opts.durationS,
    warmup_s: opts.warmupS,
    rounds: PEER_ROUNDS,
    ours_tiers: OURS_TIERS,
    ours_processes: stack.servingProcesses,
    load_s,
    check,
    runs,
    ratios: peerRatios(runs),
  };
  const errors = runs.reduce((s, r) => s + r.errors, 0);
  return {
    comparison,
    result: {
      name: "peer",
      p50_ms: null,
      p95_ms: null,
      p99_ms: null,
      rps: null,
      errors,
      requests: runs.reduce((s, r) => s + r.requests, 0),
      notes: `ours vs ${opts.url}: ${runs.length} runs of ${opts.durationS} s; see "Against the peer" below`,
    },
  };
}
