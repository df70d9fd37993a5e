// Streaming-aggregation scenarios (README "Streaming aggregations"): event accepted → aggregate visible, events/s
// folded end to end with Zipf(1.1) tracks and nothing lost, a 10-aggregate read against the do-get floor, and the
// events/s one EntityState object folds (the per-object limit behind hot-entity sharding).
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { type AggregationEvent, aggregationPlan } from "../../src/core/aggregation";
import { withPgClient } from "../../tools/postgres";
import {
  BENCH_EVENT_TYPE,
  BENCH_GENRES,
  BENCH_SOURCES,
  benchRegistry,
  prng,
  TRACK_PLAYS_1H,
  USER_AGGREGATES,
  ZipfSampler,
} from "../lib/dataset";
import { msSince, nowNs } from "../lib/http";
import { sequential } from "../lib/runner";
import { percentile, round, type ScenarioResult, summarize } from "../lib/stats";
import { type BenchContext, expectServed, type FeatureResponseBody, parseBody } from "./context";

const EVENTS = "/ingest/events";
const GET = "/features/get";
const BATCH = "/features/batch";
/** The hot-entity distribution: Zipf(1.1) over tracks. */
const ZIPF_S = 1.1;

/** Sizes per mode (kept here, not in lib/config.ts, so the streaming scenarios stay in one file). */
const SIZES = {
  quick: { freshness: 60, freshnessRate: 10, ingestEvents: 20_000, tracks: 1_000, users: 2_000, history: 24, hotEvents: 10_000 },
  full: { freshness: 200, freshnessRate: 10, ingestEvents: 100_000, tracks: 10_000, users: 20_000, history: 48, hotEvents: 40_000 },
} as const;
/** Events per POST /ingest/events of stream-ingest and the history loads (the consumer's batch is 100 messages). */
const EVENTS_PER_POST = 100;
const POST_CONCURRENCY = 4;
const POLL_MS = 5;
const VISIBLE_TIMEOUT_MS = 10_000;
/** stream-ingest waits this long for the queue consumer when a direct fold failed (pending_entities > 0). */
const PENDING_DRAIN_MS = 60_000;
const WARM_READS = 50;

/**
 * Locally every Durable Object keeps its SQLite files open (about 3 descriptors per object, measured:
 * 3,000 objects held ~9,000), and past the process's open-file limit the simulator fails with
 * SQLITE_CANTOPEN. stream-ingest's users and tracks are scaled down to half the limit's worth of
 * objects (the rest for the other scenarios' objects); the events stay, only their spread over objects changes.
 */
const FDS_PER_OBJECT = 3;
function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
function sizes(ctx: BenchContext) {
  const s = SIZES[ctx.cfg.mode];
  const limit = openFileLimit();
  const scale = Math.min(1, limit / 2 / FDS_PER_OBJECT / (s.tracks + s.users));
  // scaledToFileLimit: the limit that scaled the objects down, null when every object fits.
  return { ...s, tracks: Math.floor(s.tracks * scale), users: Math.floor(s.users * scale), scaledToFileLimit: scale < 1 ? limit : null };
}
const runTag = () => Date.now().toString(36);

interface Play {
  event_type: string;
  event_id: string;
  event_timestamp: number;
  entities: { user_id: string; track_id: string };
  fields: { seconds_played: number; skipped: boolean; source: string; genre: string };
}

function play(id: string, ts: number, user: string, track: string, r: number): Play {
  return {
    event_type: BENCH_EVENT_TYPE,
    event_id: id,
    event_timestamp: ts,
    entities: { user_id: user, track_id: track },
    fields: {
      seconds_played: Math.round(r * 24_000) / 100,
      skipped: r < 0.3,
      source: BENCH_SOURCES[Math.floor(r * 1000) % BENCH_SOURCES.length]!,
      genre: BENCH_GENRES[Math.floor(r * 10_000) % BENCH_GENRES.length]!,
    },
  };
}

interface EventsAnswer {
  accepted: number;
  pending_entities: number;
  refused: Record<string, number>;
}

/** Attempts per POST: a 503 or a timeout is retried, as the route says is safe (idempotent by event_id). */
const POST_ATTEMPTS = 5;

/** Posts `events` in EVENTS_PER_POST chunks, POST_CONCURRENCY at a time, retrying 503s and timeouts; throws on anything else. */
async function postAll(
  ctx: BenchContext,
  events: readonly Play[],
  latencies?: number[],
): Promise<{ pending: number; refused: number; retries: number }> {
  let next = 0;
  let pending = 0;
  let refused = 0;
  let retries = 0;
  const postOnce = async (chunk: readonly Play[]) => {
    for (let attempt = 1; ; attempt++) {
      const res = await ctx.ingest.post(EVENTS, chunk).catch((err: unknown) => err as Error);
      if (!(res instanceof Error) && res.status === 202) return res;
      const why = res instanceof Error ? res.message : `${res.status}: ${res.body.toString().slice(0, 300)}`;
      if (attempt >= POST_ATTEMPTS || (!(res instanceof Error) && res.status !== 503))
        throw new Error(`POST ${EVENTS} failed ${attempt} times, last: ${why}`);
      retries++;
      ctx.log(`POST ${EVENTS} retried after ${why.slice(0, 160)}`);
      await sleep(200 * attempt);
    }
  };
  await Promise.all(
    Array.from({ length: POST_CONCURRENCY }, async () => {
      while (next * EVENTS_PER_POST < events.length) {
        const chunk = events.slice(next * EVENTS_PER_POST, (next + 1) * EVENTS_PER_POST);
        next++;
        const res = await postOnce(chunk);
        latencies?.push(res.ms);
        const body = parseBody<EventsAnswer>(res);
        pending += body.pending_entities;
        for (const n of Object.values(body.refused)) refused += n;
      }
    }),
  );
  return { pending, refused, retries };
}

/** Sum of one numeric feature over entities, read 100 per /features/batch. */
async function sumOf(ctx: BenchContext, ids: readonly string[], feature: string): Promise<number> {
  let sum = 0;
  for (let i = 0; i < ids.length; i += 100) {
    const res = await ctx.serving.post(
      BATCH,
      ids.slice(i, i + 100).map((id) => ({ entity_id: id, feature_names: [feature] })),
    );
    if (res.status !== 200) throw new Error(`POST ${BATCH} answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
    for (const item of parseBody<FeatureResponseBody[]>(res)) sum += Number(item.features[feature] ?? 0);
  }
  return sum;
}

/**
 * One play of a never-read user at a time (freshnessRate/s): from the 202 of POST /ingest/events until
 * POST /features/get serves ua_plays_1h = 1, polled every POLL_MS.
 */
export async function streamFreshness(ctx: BenchContext): Promise<ScenarioResult> {
  const { freshness: n, freshnessRate } = sizes(ctx);
  const tag = runTag();
  const visible: number[] = [];
  const accept: number[] = [];
  /** Latency of the first read after the 202, and how often it already had the event (the fold precedes the 202). */
  const firstRead: number[] = [];
  let visibleOnFirstRead = 0;
  let errors = 0;
  const random = prng(11);
  const started = Date.now();
  const tasks: Promise<void>[] = [];
  const one = async (k: number) => {
    const user = `user_sf_${tag}_${k}`;
    const res = await ctx.ingest.post(EVENTS, play(`sf-${tag}-${k}`, Date.now(), user, `track_sf_${k % 10}`, random()));
    if (res.status !== 202) {
      errors++;
      ctx.log(`stream-freshness: POST answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
      return;
    }
    accept.push(res.ms);
    const t0 = nowNs();
    let reads = 0;
    while (msSince(t0) < VISIBLE_TIMEOUT_MS) {
      const got = await ctx.serving.post(GET, { entity_id: user, feature_names: ["ua_plays_1h"] });
      reads++;
      if (reads === 1) firstRead.push(got.ms);
      if (got.status === 200 && parseBody<FeatureResponseBody>(got).features.ua_plays_1h === 1) {
        visible.push(msSince(t0));
        if (reads === 1) visibleOnFirstRead++;
        return;
      }
      await sleep(POLL_MS);
    }
    errors++;
  };
  for (let k = 0; k < n; k++) {
    const wait = started + (k * 1000) / freshnessRate - Date.now();
    if (wait > 0) await sleep(wait);
    tasks.push(one(k));
  }
  await Promise.all(tasks);
  const result = summarize("stream-freshness", visible, { errors, elapsedMs: 0, requests: n });
  result.rps = null;
  const sortedAccept = [...accept].sort((a, b) => a - b);
  result.extra = {
    events: n,
    events_per_second: freshnessRate,
    poll_interval_ms: POLL_MS,
    post_to_202_p50_ms: round(percentile(sortedAccept, 50)),
    post_to_202_p95_ms: round(percentile(sortedAccept, 95)),
    visible_on_first_read: visibleOnFirstRead,
    first_read_p50_ms: round(
      percentile(
        [...firstRead].sort((a, b) => a - b),
        50,
      ),
    ),
    first_read_p95_ms: round(
      percentile(
        [...firstRead].sort((a, b) => a - b),
        95,
      ),
    ),
  };
  result.notes = "202 of POST /ingest/events (one play of a fresh user) → ua_plays_1h = 1 in POST /features/get; extra: POST → 202";
  return result;
}

/**
 * ingestEvents plays (Zipf(1.1) over tracks, uniform over users) posted EVENTS_PER_POST (100) per request, 4 in flight.
 * The 202 comes after Postgres, the queue and the direct fold, so events/s = events / (first POST → last
 * 202), extended to the consumer's drain if a direct fold failed. Lost = events missing from raw_events,
 * from the tracks' ta_plays_1h summed over every track, or from the users' ua_plays_1h.
 */
export async function streamIngest(ctx: BenchContext): Promise<ScenarioResult> {
  const { ingestEvents: n, tracks, users, scaledToFileLimit } = sizes(ctx);
  const tag = runTag();
  const random = prng(23);
  const zipf = new ZipfSampler(tracks, ZIPF_S, random);
  const now = Date.now();
  const events = Array.from({ length: n }, (_, i) =>
    play(`si-${tag}-${i}`, now - (n - i), `user_si_${tag}_${i % users}`, `track_si_${tag}_${zipf.next()}`, random()),
  );
  const latencies: number[] = [];
  const t0 = nowNs();
  const { pending, refused, retries } = await postAll(ctx, events, latencies);
  const acceptedMs = msSince(t0);
  const trackIds = Array.from({ length: tracks }, (_, r) => `track_si_${tag}_${r + 1}`);
  const userIds = Array.from({ length: Math.min(users, n) }, (_, u) => `user_si_${tag}_${u}`);
  let inTracks = await sumOf(ctx, trackIds, TRACK_PLAYS_1H);
  let foldedMs = acceptedMs;
  // A failed direct fold is the consumer's to fold: wait for it (past L0's 1 s) before counting losses.
  while (pending > 0 && inTracks < n && msSince(t0) < PENDING_DRAIN_MS) {
    await sleep(1_100);
    inTracks = await sumOf(ctx, trackIds, TRACK_PLAYS_1H);
    foldedMs = msSince(t0);
  }
  const inUsers = await sumOf(ctx, userIds, "ua_plays_1h");
  const inPostgres = await withPgClient(ctx.stack.databaseUrl, async (db) =>
    Number(
      (await db.query<{ n: string }>("select count(*)::text as n from raw_events where event_id like $1", [`si-${tag}-%`])).rows[0]?.n ?? 0,
    ),
  );
  const lost = n - Math.min(inPostgres, inTracks, inUsers);
  const result = summarize("stream-ingest", latencies, { errors: lost, elapsedMs: acceptedMs, requests: latencies.length });
  result.rps = round((n / foldedMs) * 1000, 1);
  result.extra = {
    events: n,
    events_per_post: EVENTS_PER_POST,
    posts_in_flight: POST_CONCURRENCY,
    tracks,
    users: userIds.length,
    hottest_track_share: round(zipf.headShare(1), 3),
    in_postgres: inPostgres,
    in_track_tiles: inTracks,
    in_user_tiles: inUsers,
    lost,
    pending_entities: pending,
    refused,
    post_retries: retries,
    first_post_to_all_folded_s: round(foldedMs / 1000, 2),
    objects_scaled_to_open_file_limit: scaledToFileLimit,
  };
  result.notes = `rps = events/s folded (202 = stored in Postgres, queued and folded into every entity's tiles); p50/95/99 = POST /ingest/events of ${EVENTS_PER_POST} events; errors = lost events`;
  return result;
}

/**
 * One never-read user × the 10 aggregation features of USER_AGGREGATES (7d/1h and 1h/1m windows,
 * `history` events spread over the week, the newest in the last hour), sequential: compare with do-get-floor.
 */
export async function aggregateRead(ctx: BenchContext): Promise<ScenarioResult> {
  const { history } = sizes(ctx);
  const tag = runTag();
  const count = ctx.cfg.requests.durableObject + WARM_READS;
  const ids = Array.from({ length: count }, (_, i) => `user_ar_${tag}_${i}`);
  const random = prng(31);
  const now = Date.now();
  const week = 7 * 86_400_000 - 3_600_000;
  const events = ids.flatMap((id, i) =>
    Array.from({ length: history }, (_, h) =>
      play(`ar-${tag}-${i}-${h}`, h === 0 ? now - 60_000 : now - Math.floor(random() * week), id, `track_ar_${i % 50}`, random()),
    ),
  );
  const load = await postAll(ctx, events);
  const names = USER_AGGREGATES.map((a) => a.name);
  const body = (i: number) => ({ entity_id: ids[i]!, feature_names: names, include_metadata: true });
  await sequential(ctx.serving, WARM_READS, GET, body);
  const out = await sequential(
    ctx.serving,
    count - WARM_READS,
    GET,
    (i) => body(WARM_READS + i),
    (res) => (res.status === 200 ? expectServed(res, "durable_object") : `HTTP ${res.status}: ${res.body.toString().slice(0, 200)}`),
  );
  const result = summarize("aggregate-read", out.latencies, { errors: out.errors, elapsedMs: out.elapsedMs });
  result.extra = {
    features: names.length,
    history_events_per_entity: history,
    history_post_retries: load.retries,
    error_samples: out.errorSamples,
  };
  result.notes = `POST /features/get of ${names.length} aggregation features (7d/1h and 1h/1m) of a never-read user (${history} events in its week)`;
  return result;
}

/**
 * The per-object limit: events/s one EntityState folds, timed inside workerd by the loader Worker
 * (batches one after another into one object: an object runs one call at a time). The hot track has
 * its one feature (ta_plays_1h); the user has 10. rps = the track's rate with batches of 100 (the consumer's batch).
 */
export async function streamHotObject(ctx: BenchContext): Promise<ScenarioResult> {
  const { hotEvents } = sizes(ctx);
  const tag = runTag();
  const registry = benchRegistry(ctx.cfg.featuresPerVector);
  const eventType = registry.event_types.find((e) => e.name === BENCH_EVENT_TYPE);
  const planFor = (name: string) => {
    const def = registry.features.find((f) => f.name === name);
    if (!def) throw new Error(`no bench feature ${name}`);
    return aggregationPlan(def, eventType);
  };
  const random = prng(47);
  const now = Date.now();
  const rates: Record<string, number | null> = {};
  let errors = 0;
  const cases = [
    { entity: "track", plans: [planFor(TRACK_PLAYS_1H)] },
    { entity: "user", plans: USER_AGGREGATES.map((a) => planFor(a.name)) },
  ];
  for (const c of cases) {
    for (const size of [1, 100, 500]) {
      const total = size === 1 ? Math.min(2_000, hotEvents) : hotEvents;
      const name = `${c.entity}:${c.entity}_hot_${tag}_${size}`;
      const batches: AggregationEvent[][] = [];
      for (let i = 0; i < total; i += size) {
        batches.push(
          Array.from({ length: Math.min(size, total - i) }, (_, k) => {
            const p = play(`ho-${tag}-${size}-${i + k}`, now - (total - i - k), "u", "t", random());
            return { event_type: p.event_type, event_id: p.event_id, event_timestamp: p.event_timestamp, fields: p.fields };
          }),
        );
      }
      let ms = 0;
      let applied = 0;
      // At most ~1 MB of events per request to the loader.
      const perRequest = Math.max(1, Math.floor(2_000 / size));
      for (let b = 0; b < batches.length; b += perRequest) {
        const res = await ctx.loader.post("/do/fold", { name, batches: batches.slice(b, b + perRequest), plans: c.plans });
        if (res.status !== 200) {
          errors++;
          ctx.log(`stream-hot-object: /do/fold answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
          break;
        }
        const r = parseBody<{ ms: number; applied: number }>(res);
        ms += r.ms;
        applied += r.applied;
      }
      if (applied !== total) errors++;
      rates[`${c.entity}_${c.plans.length}_features_batch_${size}_events_per_s`] = ms > 0 ? round((applied / ms) * 1000, 0) : null;
    }
  }
  const result = summarize("stream-hot-object", [], { errors, elapsedMs: 0, requests: 0 });
  result.rps = rates.track_1_features_batch_100_events_per_s ?? null;
  result.extra = rates;
  result.notes = "events/s one EntityState folds (foldEvents calls one after another, timed in workerd); rps = 1 feature, batches of 100";
  return result;
}
