// Demo raw events for the aggregation features: a seeded generator of listening_event / user_action envelopes over the
// demo catalog's ids, a burst of recent events for `npm run dev`, and a steady stream for `npm run demo:stream`.
import type { EventEnvelope } from "../../src/core/event-types";
import { mulberry32 } from "../../src/core/random";
import { normalizeToken } from "../../src/core/transforms";
import { GENRES } from "../../src/core/vocabularies";
import { callIngest, type IngestEndpoint, responseError } from "../ingest-client";
import { withPgClient } from "../postgres";

/** A demo track as events carry it: its artist and normalised primary genre. */
export interface DemoTrack {
  id: string;
  artistId: string;
  genre: string | undefined;
}

export interface SimulatorOptions {
  /** Users user_1 … user_N get the events. */
  users: number;
  tracks: readonly DemoTrack[];
  seed?: number;
  /** Zipf exponent of track popularity (the hot-entity stream uses 1.1). */
  zipf?: number;
}

/** Share of listening events that are skips, and of those that are replays: about what the demo catalog has. */
const SKIP_SHARE = 0.25;
const REPLAY_SHARE = 0.05;
/** One event in this many is a user_action instead of a play. */
const ACTION_EVERY = 20;
/** A user's session ends after this many plays on average. */
const PLAYS_PER_SESSION = 12;
/** Events one POST /ingest/events carries (the route takes up to 5,000). */
export const EVENTS_PER_POST = 500;
const SOURCES = ["home", "search", "discover", "playlist", "radio", "library", "other"] as const;
const DEVICES = ["mobile", "desktop", "web", "smart_speaker", "tv", "car"] as const;
const ACTIONS = ["playlist_created", "shared", "liked", "followed_artist", "saved_track"] as const;
/** Genres the listening_event type allows (features/events.yaml repeats the vocabulary); others are left out of the event. */
const EVENT_GENRES: ReadonlySet<string> = new Set(GENRES);

/** The demo catalog's users (user_1 … user_N) and tracks (the tables of DATABASE_URL); the Zipf ranks tracks in id order. */
export async function loadDemoCatalog(databaseUrl: string): Promise<{ users: number; tracks: DemoTrack[] }> {
  const { users, rows } = await withPgClient(databaseUrl, async (client) => ({
    users: Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM users")).rows[0]?.n ?? 0),
    rows: (
      await client.query<{ id: string; artist_id: string; genre_primary: string | null }>(
        "SELECT id, artist_id, genre_primary FROM tracks ORDER BY id",
      )
    ).rows,
  }));
  const tracks = rows.map((r) => {
    const genre = normalizeToken(r.genre_primary);
    return { id: r.id, artistId: r.artist_id, genre: genre && EVENT_GENRES.has(genre) ? genre : undefined };
  });
  return { users, tracks };
}

/** Seeded, so two runs with the same seed send the same events (ids include the seed and a counter). */
export class EventSimulator {
  private readonly random: () => number;
  private readonly cumulative: number[];
  private readonly sessions = new Map<number, { id: string; left: number }>();
  private counter = 0;
  private sessionCounter = 0;

  constructor(private readonly opts: SimulatorOptions) {
    if (opts.users < 1 || opts.tracks.length === 0) throw new Error("the simulator needs at least one user and one track");
    this.random = mulberry32(opts.seed ?? Date.now() % 2 ** 31);
    const s = opts.zipf ?? 1.1;
    let total = 0;
    this.cumulative = opts.tracks.map((_, i) => (total += 1 / (i + 1) ** s));
    for (let i = 0; i < this.cumulative.length; i++) this.cumulative[i] = (this.cumulative[i] as number) / total;
  }

  /** The next event, stamped `at` (epoch ms). */
  next(at: number): EventEnvelope {
    const n = this.counter++;
    const user = 1 + Math.floor(this.random() * this.opts.users);
    const event_id = `sim-${this.opts.seed ?? "x"}-${at.toString(36)}-${n}`;
    const event_timestamp = new Date(at).toISOString();
    if (n % ACTION_EVERY === ACTION_EVERY - 1)
      return {
        event_type: "user_action",
        event_id,
        event_timestamp,
        entities: { user_id: `user_${user}` },
        fields: { action: this.pick(ACTIONS) },
      };
    const track = this.track();
    const skipped = this.random() < SKIP_SHARE;
    return {
      event_type: "listening_event",
      event_id,
      event_timestamp,
      entities: { user_id: `user_${user}`, track_id: track.id, artist_id: track.artistId, session_id: this.session(user) },
      fields: {
        seconds_played: skipped ? Math.round(this.random() * 30 * 10) / 10 : Math.round((120 + this.random() * 120) * 10) / 10,
        skipped,
        replayed: !skipped && this.random() < REPLAY_SHARE,
        source: this.pick(SOURCES),
        device_type: this.pick(DEVICES),
        ...(track.genre ? { genre: track.genre } : {}),
      },
    };
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  /** Zipf over the track list: track i has weight 1 / (i + 1)^s. */
  private track(): DemoTrack {
    const u = this.random();
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cumulative[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return this.opts.tracks[lo] as DemoTrack;
  }

  private session(user: number): string {
    let s = this.sessions.get(user);
    if (!s || s.left <= 0) {
      s = { id: `session_sim_${user}_${++this.sessionCounter}`, left: 1 + Math.floor(this.random() * 2 * PLAYS_PER_SESSION) };
      this.sessions.set(user, s);
    }
    s.left--;
    return s.id;
  }
}

/** What POST /ingest/events answered for all posts together. */
export interface PostSummary {
  accepted: number;
  stored: number;
  refused: Record<string, number>;
}

/** Posts the events in chunks of EVENTS_PER_POST; a non-202 answer is an Error naming it. */
export async function postEvents(ep: IngestEndpoint, events: readonly EventEnvelope[]): Promise<PostSummary> {
  const summary: PostSummary = { accepted: 0, stored: 0, refused: {} };
  for (let i = 0; i < events.length; i += EVENTS_PER_POST) {
    const res = await callIngest(ep, "/ingest/events", { method: "POST", body: JSON.stringify(events.slice(i, i + EVENTS_PER_POST)) });
    if (res.status !== 202) throw new Error(`POST /ingest/events answered ${res.status}: ${await responseError(res)}`);
    const body = (await res.json()) as { accepted: number; stored: number; refused: Record<string, number> };
    summary.accepted += body.accepted;
    summary.stored += body.stored;
    for (const [reason, n] of Object.entries(body.refused)) summary.refused[reason] = (summary.refused[reason] ?? 0) + n;
  }
  return summary;
}

/**
 * `count` events spread evenly over the `spanMs` before `now`, oldest first: what `npm run dev` posts so
 * that the hourly and session aggregates are non-empty from the start (keep spanMs within the event
 * types' allowed lateness, or the online tiles refuse them as too late).
 */
export function recentEvents(sim: EventSimulator, count: number, spanMs: number, now: number): EventEnvelope[] {
  return Array.from({ length: count }, (_, i) => sim.next(Math.floor(now - spanMs + ((i + 1) * spanMs) / count)));
}

/** How often the stream posts the events that came due since its last post. */
export const STREAM_TICK_MS = 1_000;

export interface EventStream {
  /** Totals so far. */
  readonly summary: PostSummary & { failures: number };
  stop(): Promise<void>;
}

/**
 * Posts about `ratePerSecond` events a second, stamped when they are generated, one POST per tick.
 * A failed post is reported through `onError` and the stream goes on (the dev stack may be restarting).
 */
export function startEventStream(
  ep: IngestEndpoint,
  sim: EventSimulator,
  ratePerSecond: number,
  onError: (err: unknown) => void,
  onTick?: (summary: PostSummary & { failures: number }) => void,
): EventStream {
  const summary = { accepted: 0, stored: 0, refused: {} as Record<string, number>, failures: 0 };
  let owed = 0;
  let last = Date.now();
  let inFlight: Promise<void> = Promise.resolve();
  const tick = () => {
    const now = Date.now();
    owed += ((now - last) / 1000) * ratePerSecond;
    last = now;
    const n = Math.floor(owed);
    if (n === 0) return;
    owed -= n;
    const events = Array.from({ length: n }, () => sim.next(Date.now()));
    inFlight = inFlight
      .then(() => postEvents(ep, events))
      .then(
        (s) => {
          summary.accepted += s.accepted;
          summary.stored += s.stored;
          for (const [reason, k] of Object.entries(s.refused)) summary.refused[reason] = (summary.refused[reason] ?? 0) + k;
          onTick?.(summary);
        },
        (err: unknown) => {
          summary.failures++;
          onError(err);
        },
      );
  };
  const timer = setInterval(tick, STREAM_TICK_MS);
  return {
    summary,
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}

/** What `npm run dev` posts at start: events over the last 50 minutes (within the 1 h allowed lateness). */
export const DEV_RECENT_EVENTS = 2_000;
export const DEV_RECENT_SPAN_MS = 50 * 60_000;
/** The dev stack's background stream: enough to watch skips_1h and tracks_in_session move, cheap on a laptop. */
export const DEV_STREAM_RATE = 2;

/**
 * Seeds recent events and starts a background stream over the demo catalog of `databaseUrl` (what `npm run
 * dev` runs once the Workers are up). Returns the stream and what the seed posted.
 */
export async function startDemoEvents(
  ep: IngestEndpoint,
  databaseUrl: string,
  opts: { recent?: number; spanMs?: number; rate?: number; seed?: number; onError: (err: unknown) => void },
): Promise<{ seeded: PostSummary; stream: EventStream }> {
  const catalog = await loadDemoCatalog(databaseUrl);
  const sim = new EventSimulator({ users: catalog.users, tracks: catalog.tracks, seed: opts.seed });
  const seeded = await postEvents(ep, recentEvents(sim, opts.recent ?? DEV_RECENT_EVENTS, opts.spanMs ?? DEV_RECENT_SPAN_MS, Date.now()));
  return { seeded, stream: startEventStream(ep, sim, opts.rate ?? DEV_STREAM_RATE, opts.onError) };
}
